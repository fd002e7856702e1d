package realtime

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a machine-readable error code of the wire protocol (PROTOCOL.md
// section 5). Clients branch on the code, never on the message text.
type Code string

// The error codes of the protocol.
const (
	CodeUnauthorized  Code = "unauthorized"
	CodeForbidden     Code = "forbidden"
	CodeNotFound      Code = "not_found"
	CodeInvalid       Code = "invalid"
	CodeTooLarge      Code = "too_large"
	CodeRateLimited   Code = "rate_limited"
	CodeRoomFull      Code = "room_full"
	CodeLimitExceeded Code = "limit_exceeded"
	CodeConflict      Code = "conflict"
	CodeUnavailable   Code = "unavailable"
	CodeInternal      Code = "internal"
)

// Error is an error that carries a protocol code. Hooks, stores and the
// authenticator return it (wrapped or not) to choose what the client sees;
// any other error reaches the client as CodeInternal with a generic message.
// The Go client returns *Error for an error ack.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "realtime: " + string(e.Code)
	}
	return "realtime: " + string(e.Code) + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, realtime.ErrNotFound) matches any not-found error.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors, one per code, for errors.Is, which matches any *Error
// with the same code. They are errors, not *Error values, so that no stray
// assignment can change what every reply of that code says.
var (
	ErrUnauthorized  error = &Error{Code: CodeUnauthorized, Message: "authentication required"}
	ErrForbidden     error = &Error{Code: CodeForbidden, Message: "not allowed"}
	ErrNotFound      error = &Error{Code: CodeNotFound, Message: "not found"}
	ErrInvalid       error = &Error{Code: CodeInvalid, Message: "invalid request"}
	ErrTooLarge      error = &Error{Code: CodeTooLarge, Message: "too large"}
	ErrRateLimited   error = &Error{Code: CodeRateLimited, Message: "rate limit exceeded"}
	ErrRoomFull      error = &Error{Code: CodeRoomFull, Message: "room is full"}
	ErrLimitExceeded error = &Error{Code: CodeLimitExceeded, Message: "limit exceeded"}
	ErrConflict      error = &Error{Code: CodeConflict, Message: "conflict"}
	ErrUnavailable   error = &Error{Code: CodeUnavailable, Message: "temporarily unavailable"}
	ErrInternal      error = &Error{Code: CodeInternal, Message: "internal error"}
)

// ErrHubClosed is returned by the server-side API after Shutdown or Close.
var ErrHubClosed = errors.New("realtime: hub closed")

// toWire maps any error to the *Error a client may see. Errors without a code
// become a generic internal error: their text may hold details (SQL, paths)
// that belong in the log, not on the wire.
func toWire(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return errInternal, false
}

// errInternal is ErrInternal as the *Error that toWire returns.
var errInternal = ErrInternal.(*Error)

// StatusCode is a WebSocket close code (PROTOCOL.md section 5).
type StatusCode int

// The close codes the hub uses.
const (
	StatusNormal       StatusCode = 1000
	StatusGoingAway    StatusCode = 1001
	StatusPolicy       StatusCode = 1008
	StatusTooBig       StatusCode = 1009
	StatusInternal     StatusCode = 1011
	StatusUnauthorized StatusCode = 4001
	StatusForbidden    StatusCode = 4003
	StatusRateLimited  StatusCode = 4008
	StatusTooSlow      StatusCode = 4009
)

// Final reports whether a close code asks the client not to reconnect by
// itself: 1000 (the server ended the session on purpose), 1008, 4001, 4003
// and 4008. Every other code (1001 shutting down, 1006, 1011, 4009 too
// slow, ...) is followed by a reconnect with backoff. A client that can get
// a fresh token may still reconnect after 4001. Every transport and client
// of this module follows it (PROTOCOL.md section 5).
func (c StatusCode) Final() bool {
	switch c {
	case StatusNormal, StatusPolicy, StatusUnauthorized, StatusForbidden, StatusRateLimited:
		return true
	}
	return false
}

// CloseError, returned by a hook (OnConnect, AuthorizeJoin, OnMessage), closes
// the connection with its code and reason instead of replying with an error.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("realtime: close %d: %s", e.Code, e.Reason)
}

// HTTPStatus is the HTTP status that answers an error of code c over
// HTTP: the file handler's, the admin API's.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited, CodeLimitExceeded:
		return http.StatusTooManyRequests
	case CodeConflict, CodeRoomFull:
		return http.StatusConflict
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}
