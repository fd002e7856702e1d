package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/diskblob"
)

// pngBytes starts like a PNG file, which is all http.DetectContentType
// looks at.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 600)...)

// fileEnv is a hub with file sharing served over loopback HTTP: room is
// owned by alice, with bob as a member; mallory belongs to no room.
type fileEnv struct {
	*testEnv
	store *spyStore
	blobs realtime.BlobStore
	dir   string // the blob directory
	url   string // http://…/files, mounted on a ServeMux as documented
	bare  string // http://…/files, mounted without a mux, so paths reach the handler uncleaned
	room  realtime.Room
}

// spyStore is the memory store, recording the files it saved and failing
// SaveFile when failSave is set.
type spyStore struct {
	realtime.Store
	mu       sync.Mutex
	saved    []realtime.File
	failSave bool
}

func (s *spyStore) SaveFile(ctx context.Context, f realtime.File) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave {
		return errors.New("database is down")
	}
	s.saved = append(s.saved, f)
	return s.Store.SaveFile(ctx, f)
}

func (s *spyStore) savedFiles() []realtime.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]realtime.File(nil), s.saved...)
}

const testMaxFileSize = 4 << 10

// newFileEnv starts a hub with cfg (file sharing on, MaxFileSize 4 KiB unless
// cfg says otherwise). blobs nil means a diskblob.Store in a temporary
// directory.
func newFileEnv(t *testing.T, cfg realtime.Config, blobs realtime.BlobStore) *fileEnv {
	t.Helper()
	store := &spyStore{Store: realtime.NewMemoryStore(realtime.MemoryOptions{})}
	cfg.Store = store
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = testMaxFileSize
	}
	env := &fileEnv{testEnv: newTestHub(t, cfg), store: store, blobs: blobs}
	if blobs == nil {
		env.dir = t.TempDir()
		disk, err := diskblob.New(env.dir)
		require.NoError(t, err)
		env.blobs = disk
	}
	handler := env.hub.FileHandler(env.blobs)
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files", handler))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env.url = srv.URL + "/files"
	bare := httptest.NewServer(http.StripPrefix("/files", handler))
	t.Cleanup(bare.Close)
	env.bare = bare.URL + "/files"

	ctx := context.Background()
	room, err := env.hub.CreateRoom(ctx, realtime.User{ID: "alice", Username: "Alice"}, realtime.RoomOptions{Name: "files"})
	require.NoError(t, err)
	_, err = env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob", Username: "Bob"}, "")
	require.NoError(t, err)
	env.room = room
	return env
}

// formPart is one part of a multipart body: a field, or a file when
// filename is set.
type formPart struct {
	name, filename, contentType string
	data                        []byte
}

func field(name, value string) formPart { return formPart{name: name, data: []byte(value)} }

func filePart(filename, contentType string, data []byte) formPart {
	return formPart{name: "file", filename: filename, contentType: contentType, data: data}
}

// multipartBody encodes parts in order.
func multipartBody(t *testing.T, parts ...formPart) (*bytes.Buffer, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := map[string]string{"name": p.name}
		if p.filename != "" {
			disp["filename"] = p.filename
		}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", disp))
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &body, mw.FormDataContentType()
}

// fileResponse is a finished HTTP exchange.
type fileResponse struct {
	status int
	header http.Header
	body   []byte
}

// code returns the error code of a JSON error reply.
func (r fileResponse) code(t *testing.T) realtime.Code {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "%s", r.body)
	var v struct{ Error realtime.Error }
	require.NoError(t, json.Unmarshal(r.body, &v), "%s", r.body)
	require.NotEmpty(t, v.Error.Message)
	return v.Error.Code
}

// requireError requires an error reply with status and code.
func (r fileResponse) requireError(t *testing.T, status int, code realtime.Code) {
	t.Helper()
	require.Equal(t, status, r.status, "%s", r.body)
	require.Equal(t, code, r.code(t))
}

func doFile(t *testing.T, req *http.Request) fileResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return fileResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// postFile uploads a body to base with a bearer token (none when empty).
func postFile(t *testing.T, base, token string, body io.Reader, contentType string) fileResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/", body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doFile(t, req)
}

// upload sends parts as user (anonymous when empty).
func (e *fileEnv) upload(user string, parts ...formPart) fileResponse {
	e.t.Helper()
	body, ct := multipartBody(e.t, parts...)
	token := ""
	if user != "" {
		token = e.token(user)
	}
	return postFile(e.t, e.url, token, body, ct)
}

// uploadOK uploads data to the room as user and returns the File.
func (e *fileEnv) uploadOK(user, filename, contentType string, data []byte) realtime.File {
	e.t.Helper()
	r := e.upload(user, field("roomId", e.room.ID), filePart(filename, contentType, data))
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	require.Equal(e.t, "application/json", r.header.Get("Content-Type"))
	return testenv.DecodeInto[realtime.File](e.t, r.body)
}

// download fetches path (relative to base) with the token in the query.
func (e *fileEnv) download(base, path, user string) fileResponse {
	e.t.Helper()
	u := base + path
	if user != "" {
		u += "?token=" + e.token(user)
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(e.t, err)
	return doFile(e.t, req)
}

// blobFiles lists the blob directory, temporary files included.
func (e *fileEnv) blobFiles() []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.dir)
	require.NoError(e.t, err)
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}

// requireNothingStored requires that no upload left bytes or metadata.
func (e *fileEnv) requireNothingStored() {
	e.t.Helper()
	require.Empty(e.t, e.blobFiles(), "blob directory")
	require.Empty(e.t, e.store.savedFiles(), "saved file metadata")
}

func TestFileUploadDownload(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	before := time.Now().Add(-time.Second)

	// The client claims text/html; the bytes say PNG, and the bytes win.
	f := env.uploadOK("alice", "cat.png", "text/html", pngBytes)
	require.Regexp(t, `^f_[a-z2-7]{16}$`, f.ID)
	require.Equal(t, env.room.ID, f.RoomID)
	require.Equal(t, "alice", f.UploaderID)
	require.Equal(t, "cat.png", f.Name)
	require.Equal(t, "image/png", f.ContentType)
	require.Equal(t, int64(len(pngBytes)), f.Size)
	require.WithinRange(t, f.CreatedAt, before, time.Now().Add(time.Second))

	stored, err := env.store.GetFile(context.Background(), f.ID)
	require.NoError(t, err)
	require.Equal(t, f, stored)
	require.Equal(t, []string{f.ID}, env.blobFiles())

	for _, user := range []string{"alice", "bob"} {
		r := env.download(env.url, "/"+f.ID, user)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", user, r.body)
		require.Equal(t, pngBytes, r.body)
		require.Equal(t, "image/png", r.header.Get("Content-Type"))
		require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		require.Equal(t, `inline; filename=cat.png`, r.header.Get("Content-Disposition"))
		require.Equal(t, "sandbox", r.header.Get("Content-Security-Policy"))
		require.Equal(t, strconv.Itoa(len(pngBytes)), r.header.Get("Content-Length"))
	}

	// The Authorization header works as well as the query token.
	req, err := http.NewRequest(http.MethodGet, env.url+"/"+f.ID, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+env.token("bob"))
	r := doFile(t, req)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, pngBytes, r.body)

	// HEAD answers the headers only.
	req, err = http.NewRequest(http.MethodHead, env.url+"/"+f.ID+"?token="+env.token("bob"), nil)
	require.NoError(t, err)
	r = doFile(t, req)
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.body)
	require.Equal(t, "image/png", r.header.Get("Content-Type"))
}

func TestFileContentTypeIsSniffed(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	for _, tc := range []struct {
		name, claim string
		data        []byte
		wantType    string
		disposition string
	}{
		{"html claiming png", "image/png", []byte("<!DOCTYPE html><script>alert(1)</script>"), "text/html; charset=utf-8", "attachment"},
		{"text", "", []byte("hello, world\n"), "text/plain; charset=utf-8", "attachment"},
		{"unknown bytes claiming pdf", "application/pdf", []byte{0, 1, 2, 3, 0xff}, "application/octet-stream", "attachment"},
		{"gif", "application/octet-stream", []byte("GIF89a......"), "image/gif", "inline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := env.uploadOK("bob", "x.bin", tc.claim, tc.data)
			require.Equal(t, tc.wantType, f.ContentType)
			r := env.download(env.url, "/"+f.ID, "alice")
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, tc.data, r.body)
			require.Equal(t, tc.wantType, r.header.Get("Content-Type"))
			require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
			disp, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
			require.NoError(t, err)
			require.Equal(t, tc.disposition, disp)
			require.Equal(t, "x.bin", params["filename"])
		})
	}
}

func TestFileNames(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	long := strings.Repeat("a", 300) + ".txt"
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\eve\report.pdf`, "report.pdf"},
		{"..", "file"},
		{"...", "file"},
		{" .hidden ", "hidden"},
		{"evil\u202egnp.exe", "evil_gnp.exe"},
		{"tab\there", "tab_here"},
		{"café ünïcode.txt", "café ünïcode.txt"},
		{long, strings.Repeat("a", 251) + ".txt"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			f := env.uploadOK("alice", tc.in, "", []byte("data"))
			require.Equal(t, tc.want, f.Name)
			require.LessOrEqual(t, len(f.Name), 255)
			r := env.download(env.url, "/"+f.ID, "alice")
			require.Equal(t, http.StatusOK, r.status)
			_, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
			require.NoError(t, err)
			require.Equal(t, tc.want, params["filename"])
		})
	}
}

func TestFileAuthorization(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	f := env.uploadOK("alice", "a.txt", "", []byte("members only"))

	t.Run("upload without token", func(t *testing.T) {
		r := env.upload("", field("roomId", env.room.ID), filePart("a.txt", "", []byte("x")))
		r.requireError(t, http.StatusUnauthorized, realtime.CodeUnauthorized)
		require.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
	})
	t.Run("upload with bad token", func(t *testing.T) {
		body, ct := multipartBody(t, field("roomId", env.room.ID), filePart("a.txt", "", []byte("x")))
		postFile(t, env.url, "not-a-jwt", body, ct).requireError(t, http.StatusUnauthorized, realtime.CodeUnauthorized)
	})
	t.Run("upload by non-member", func(t *testing.T) {
		env.upload("mallory", field("roomId", env.room.ID), filePart("a.txt", "", []byte("x"))).
			requireError(t, http.StatusForbidden, realtime.CodeForbidden)
	})
	t.Run("upload to unknown room", func(t *testing.T) {
		env.upload("alice", field("roomId", "r_nosuchroom"), filePart("a.txt", "", []byte("x"))).
			requireError(t, http.StatusNotFound, realtime.CodeNotFound)
	})
	t.Run("upload by muted member", func(t *testing.T) {
		muted := true
		_, err := env.store.UpdateMember(context.Background(), env.room.ID, "bob", realtime.MemberUpdate{IsMuted: &muted})
		require.NoError(t, err)
		t.Cleanup(func() {
			muted = false
			_, err := env.store.UpdateMember(context.Background(), env.room.ID, "bob", realtime.MemberUpdate{IsMuted: &muted})
			require.NoError(t, err)
		})
		env.upload("bob", field("roomId", env.room.ID), filePart("a.txt", "", []byte("x"))).
			requireError(t, http.StatusForbidden, realtime.CodeForbidden)
	})
	t.Run("download without token", func(t *testing.T) {
		r := env.download(env.url, "/"+f.ID, "")
		r.requireError(t, http.StatusUnauthorized, realtime.CodeUnauthorized)
	})
	t.Run("download with bad token", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, env.url+"/"+f.ID, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer not-a-jwt")
		doFile(t, req).requireError(t, http.StatusUnauthorized, realtime.CodeUnauthorized)
	})
	t.Run("download by non-member", func(t *testing.T) {
		env.download(env.url, "/"+f.ID, "mallory").requireError(t, http.StatusForbidden, realtime.CodeForbidden)
	})
	t.Run("download after being removed", func(t *testing.T) {
		ctx := context.Background()
		_, err := env.hub.AddMember(ctx, env.room.ID, realtime.UserRef{ID: "carol"}, "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, env.download(env.url, "/"+f.ID, "carol").status)
		require.NoError(t, env.hub.Kick(ctx, env.room.ID, "carol", ""))
		env.download(env.url, "/"+f.ID, "carol").requireError(t, http.StatusForbidden, realtime.CodeForbidden)
	})
	t.Run("download by hub admin", func(t *testing.T) {
		tok, err := env.jwt.Sign(realtime.User{ID: "root", Roles: []string{"admin"}}, time.Hour)
		require.NoError(t, err)
		r := env.download(env.url, "/"+f.ID+"?token="+tok, "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "members only", string(r.body))
	})
	require.Len(t, env.store.savedFiles(), 1, "no refused upload was saved")
	require.Len(t, env.blobFiles(), 1, "no refused upload left bytes")
}

func TestFileTooLarge(t *testing.T) {
	env := newFileEnv(t, realtime.Config{MaxFileSize: 1000}, nil)

	t.Run("one byte over", func(t *testing.T) {
		env.upload("alice", field("roomId", env.room.ID), filePart("big.bin", "", bytes.Repeat([]byte("x"), 1001))).
			requireError(t, http.StatusRequestEntityTooLarge, realtime.CodeTooLarge)
		env.requireNothingStored()
	})
	t.Run("far over, streamed without length", func(t *testing.T) {
		body, ct := multipartBody(t, field("roomId", env.room.ID), filePart("big.bin", "", bytes.Repeat([]byte("x"), 200<<10)))
		r := postFile(t, env.url, env.token("alice"), io.MultiReader(body), ct)
		r.requireError(t, http.StatusRequestEntityTooLarge, realtime.CodeTooLarge)
		env.requireNothingStored()
	})
	t.Run("envelope over the request bound", func(t *testing.T) {
		// A huge field before the file trips http.MaxBytesReader.
		body, ct := multipartBody(t, field("roomId", env.room.ID), field("junk", strings.Repeat("j", 200<<10)),
			filePart("small.txt", "", []byte("small")))
		r := postFile(t, env.url, env.token("alice"), io.MultiReader(body), ct)
		r.requireError(t, http.StatusRequestEntityTooLarge, realtime.CodeTooLarge)
		env.requireNothingStored()
	})
	t.Run("declared length over the request bound", func(t *testing.T) {
		body, ct := multipartBody(t, field("roomId", env.room.ID), filePart("big.bin", "", bytes.Repeat([]byte("x"), 200<<10)))
		postFile(t, env.url, env.token("alice"), body, ct).
			requireError(t, http.StatusRequestEntityTooLarge, realtime.CodeTooLarge)
		env.requireNothingStored()
	})
	t.Run("exactly the maximum", func(t *testing.T) {
		data := bytes.Repeat([]byte("y"), 1000)
		f := env.uploadOK("alice", "max.txt", "", data)
		require.Equal(t, int64(1000), f.Size)
		require.Equal(t, data, env.download(env.url, "/"+f.ID, "bob").body)
	})
}

func TestFileBadRequests(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	data := []byte("content")
	for _, tc := range []struct {
		name  string
		parts []formPart
	}{
		{"missing roomId", []formPart{filePart("a.txt", "", data)}},
		{"file before roomId", []formPart{filePart("a.txt", "", data), field("roomId", env.room.ID)}},
		{"missing file", []formPart{field("roomId", env.room.ID)}},
		{"empty roomId", []formPart{field("roomId", ""), filePart("a.txt", "", data)}},
		{"roomId too long", []formPart{field("roomId", strings.Repeat("r", 300)), filePart("a.txt", "", data)}},
		{"roomId twice", []formPart{field("roomId", env.room.ID), field("roomId", env.room.ID), filePart("a.txt", "", data)}},
		{"empty file", []formPart{field("roomId", env.room.ID), filePart("a.txt", "", nil)}},
		{"nothing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.upload("alice", tc.parts...).requireError(t, http.StatusBadRequest, realtime.CodeInvalid)
		})
	}

	token := env.token("alice")
	t.Run("not multipart", func(t *testing.T) {
		postFile(t, env.url, token, strings.NewReader(`{"roomId":"x"}`), "application/json").
			requireError(t, http.StatusBadRequest, realtime.CodeInvalid)
	})
	t.Run("no boundary", func(t *testing.T) {
		postFile(t, env.url, token, strings.NewReader("whatever"), "multipart/form-data").
			requireError(t, http.StatusBadRequest, realtime.CodeInvalid)
	})
	t.Run("garbage", func(t *testing.T) {
		postFile(t, env.url, token, strings.NewReader("this is not multipart at all"), "multipart/form-data; boundary=xyz").
			requireError(t, http.StatusBadRequest, realtime.CodeInvalid)
	})
	t.Run("truncated in the file", func(t *testing.T) {
		body, ct := multipartBody(t, field("roomId", env.room.ID), filePart("a.bin", "", bytes.Repeat([]byte("z"), 2000)))
		cut := body.Bytes()[:body.Len()-1200]
		postFile(t, env.url, token, bytes.NewReader(cut), ct).
			requireError(t, http.StatusBadRequest, realtime.CodeInvalid)
	})
	env.requireNothingStored()
}

func TestFileMethods(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	req, err := http.NewRequest(http.MethodGet, env.url+"/", nil)
	require.NoError(t, err)
	r := doFile(t, req)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "POST", r.header.Get("Allow"))

	f := env.uploadOK("alice", "a.txt", "", []byte("x"))
	req, err = http.NewRequest(http.MethodDelete, env.url+"/"+f.ID+"?token="+env.token("alice"), nil)
	require.NoError(t, err)
	r = doFile(t, req)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	require.Equal(t, realtime.CodeInvalid, r.code(t))
	require.Equal(t, []string{f.ID}, env.blobFiles())
}

// TestFileAuthenticatorResults checks what the handler makes of an
// Authenticator's answers, beyond what the JWT one would return.
func TestFileAuthenticatorResults(t *testing.T) {
	auth := realtime.AuthenticatorFunc(func(_ context.Context, token string) (realtime.User, time.Time, error) {
		switch token {
		case "alice":
			return realtime.User{ID: "alice"}, time.Time{}, nil
		case "expired":
			return realtime.User{ID: "alice"}, time.Now().Add(-time.Minute), nil
		case "no-id":
			return realtime.User{Username: "ghost"}, time.Time{}, nil
		}
		return realtime.User{}, time.Time{}, errors.New("unknown token")
	})
	env := newFileEnv(t, realtime.Config{Authenticator: auth, MaxTokenBytes: 100}, nil)
	for token, status := range map[string]int{
		"alice":                  http.StatusCreated,
		"expired":                http.StatusUnauthorized,
		"no-id":                  http.StatusUnauthorized,
		"other":                  http.StatusUnauthorized,
		strings.Repeat("a", 101): http.StatusUnauthorized,
	} {
		t.Run(token[:min(len(token), 10)], func(t *testing.T) {
			body, ct := multipartBody(t, field("roomId", env.room.ID), filePart("a.txt", "", []byte("x")))
			r := postFile(t, env.url, token, body, ct)
			require.Equal(t, status, r.status, "%s", r.body)
		})
	}
}

func TestFileIDsOutsideThePattern(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	f := env.uploadOK("alice", "a.txt", "", []byte("x"))
	for _, path := range []string{
		"/../etc/passwd",
		"/..%2f..",
		"/..%2f..%2fetc%2fpasswd",
		"/f_../../x",
		"/f_..%2f..%2fx",
		"/%2e%2e/%2e%2e/etc/passwd",
		"//etc/passwd",
		"/f_abc",
		"/F_AAAAAAAAAAAAAAAA",
		"/" + f.ID + "/x",
		"/" + f.ID + "x",
		"/" + f.ID + ".png",
		"/x/" + f.ID,
		"/f_aaaaaaaaaaaaaaaa", // well-formed, unknown
	} {
		t.Run(path, func(t *testing.T) {
			env.download(env.bare, path, "alice").requireError(t, http.StatusNotFound, realtime.CodeNotFound)
		})
	}
	require.Equal(t, http.StatusOK, env.download(env.bare, "/"+f.ID, "alice").status)
}

// TestFileSharingWithoutBlobStore: mounting the file handler is what
// turns file sharing on; without a BlobStore it answers 404 to everything.
func TestFileSharingWithoutBlobStore(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	srv := httptest.NewServer(http.StripPrefix("/files", env.hub.FileHandler(nil)))
	t.Cleanup(srv.Close)
	body, ct := multipartBody(t, field("roomId", "r_x"), filePart("a.txt", "", []byte("x")))
	postFile(t, srv.URL+"/files", env.token("alice"), body, ct).requireError(t, http.StatusNotFound, realtime.CodeNotFound)
	fe := &fileEnv{testEnv: env}
	fe.download(srv.URL+"/files", "/f_aaaaaaaaaaaaaaaa", "alice").requireError(t, http.StatusNotFound, realtime.CodeNotFound)
	fe.download(srv.URL+"/files", "/", "alice").requireError(t, http.StatusNotFound, realtime.CodeNotFound)
}

// brokenBlobs is a BlobStore whose disk is full; Put reads a little first.
type brokenBlobs struct {
	mu      sync.Mutex
	deleted []string
}

func (b *brokenBlobs) Put(_ context.Context, _ string, r io.Reader) error {
	_, _ = io.ReadFull(r, make([]byte, 10))
	return errors.New("disk full")
}

func (b *brokenBlobs) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, realtime.ErrNotFound
}

func (b *brokenBlobs) Delete(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deleted = append(b.deleted, id)
	return nil
}

func TestFileBackendFailures(t *testing.T) {
	t.Run("blob store fails", func(t *testing.T) {
		blobs := &brokenBlobs{}
		env := newFileEnv(t, realtime.Config{}, blobs)
		env.upload("alice", field("roomId", env.room.ID), filePart("a.txt", "", []byte("some data"))).
			requireError(t, http.StatusServiceUnavailable, realtime.CodeUnavailable)
		require.Empty(t, env.store.savedFiles())
		blobs.mu.Lock()
		defer blobs.mu.Unlock()
		require.Len(t, blobs.deleted, 1, "the failed blob is deleted in case Put kept something")
	})
	t.Run("metadata store fails", func(t *testing.T) {
		env := newFileEnv(t, realtime.Config{}, nil)
		env.store.mu.Lock()
		env.store.failSave = true
		env.store.mu.Unlock()
		r := env.upload("alice", field("roomId", env.room.ID), filePart("a.txt", "", []byte("some data")))
		r.requireError(t, http.StatusServiceUnavailable, realtime.CodeUnavailable)
		require.NotContains(t, string(r.body), "database")
		env.requireNothingStored()
	})
	t.Run("hub closed", func(t *testing.T) {
		env := newFileEnv(t, realtime.Config{}, nil)
		f := env.uploadOK("alice", "a.txt", "", []byte("x"))
		require.NoError(t, env.hub.Close())
		env.download(env.url, "/"+f.ID, "alice").requireError(t, http.StatusServiceUnavailable, realtime.CodeUnavailable)
	})
}

// TestFileSharedInMessage shows the whole flow: upload, share the File in a
// message of type file, and download it from the message's metadata.
func TestFileSharedInMessage(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	alice, bob := env.dial("alice"), env.dial("bob")
	alice.emit("join-room", map[string]any{"roomId": env.room.ID})
	bob.emit("join-room", map[string]any{"roomId": env.room.ID})

	f := env.uploadOK("alice", "cat.png", "image/png", pngBytes)
	alice.emit("message", map[string]any{
		"roomId": env.room.ID, "type": "image", "content": f.Name,
		"metadata": map[string]any{"file": f},
	})

	m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
	require.Equal(t, realtime.TypeImage, m.Type)
	meta := testenv.DecodeInto[struct{ File realtime.File }](t, m.Metadata)
	require.Equal(t, f, meta.File)
	r := env.download(env.url, "/"+meta.File.ID, "bob")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, pngBytes, r.body)

	// A file of one room cannot be passed off in another, nor an unknown one.
	other := alice.createRoom("elsewhere", nil)
	alice.emitErr(realtime.CodeInvalid, "message", map[string]any{
		"roomId": other.ID, "type": "image", "content": f.Name, "metadata": map[string]any{"file": f},
	})
	alice.emitErr(realtime.CodeInvalid, "message", map[string]any{
		"roomId": env.room.ID, "type": "file", "content": "x", "metadata": map[string]any{"file": map[string]string{"id": "f_unknown"}},
	})
}

func TestFileConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		size string
		want int64
	}{
		{"10MB", 10 << 20},
		{"512", 512},
		{"512B", 512},
		{"1 kb", 1 << 10},
		{"3KiB", 3 << 10},
		{"2GB", 2 << 30},
		{"0", 0},
	} {
		t.Run(tc.size, func(t *testing.T) {
			t.Setenv("MAX_FILE_SIZE", tc.size)
			cfg, err := realtime.ConfigFromEnv()
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.MaxFileSize)
		})
	}
	for _, bad := range []string{"10XB", "-1MB", "1.5MB", "MB", "ten", "99999999999GB"} {
		t.Run(bad, func(t *testing.T) {
			t.Setenv("MAX_FILE_SIZE", bad)
			_, err := realtime.ConfigFromEnv()
			require.ErrorContains(t, err, "MAX_FILE_SIZE")
		})
	}
	_, err := realtime.New(realtime.Config{MaxFileSize: -1})
	require.ErrorContains(t, err, "MaxFileSize")
}

func TestFileMetadataWithoutBlob(t *testing.T) {
	env := newFileEnv(t, realtime.Config{}, nil)
	f := env.uploadOK("alice", "a.txt", "", []byte("x"))
	require.NoError(t, env.blobs.Delete(context.Background(), f.ID))
	env.download(env.url, "/"+f.ID, "bob").requireError(t, http.StatusNotFound, realtime.CodeNotFound)
}

func TestFileDevelopmentMode(t *testing.T) {
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, hub.Close()) })
	blobs, err := diskblob.New(t.TempDir())
	require.NoError(t, err)
	srv := httptest.NewServer(http.StripPrefix("/files", hub.FileHandler(blobs)))
	t.Cleanup(srv.Close)
	room, err := hub.CreateRoom(context.Background(), realtime.User{ID: "alice"}, realtime.RoomOptions{Name: "dev"})
	require.NoError(t, err)

	// Each request is a new anonymous user, a member of no room.
	body, ct := multipartBody(t, field("roomId", room.ID), filePart("a.txt", "", []byte("x")))
	postFile(t, srv.URL+"/files", "", body, ct).requireError(t, http.StatusForbidden, realtime.CodeForbidden)
}

// FuzzFileName uploads files under arbitrary names: the stored name is a
// safe base name that survives the Content-Disposition round trip.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "..", "a\u202eb", "\x00", `a"b\c`, "%41", "ü\xff", strings.Repeat("é", 200) + ".jpeg"} {
		f.Add(s)
	}
	auth := realtime.AuthenticatorFunc(func(_ context.Context, token string) (realtime.User, time.Time, error) {
		return realtime.User{ID: token}, time.Time{}, nil
	})
	hub, err := realtime.New(realtime.Config{Authenticator: auth, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(f, err)
	f.Cleanup(func() { require.NoError(f, hub.Close()) })
	blobs := &memBlobs{m: map[string][]byte{}}
	handler := hub.FileHandler(blobs)
	room, err := hub.CreateRoom(context.Background(), realtime.User{ID: "alice"}, realtime.RoomOptions{Name: "fuzz"})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, name string) {
		body, ct := multipartBody(t, field("roomId", room.ID), filePart(name, "", []byte("data")))
		req := httptest.NewRequest(http.MethodPost, "/", body)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer alice")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			// Names the multipart writer cannot encode leave no file part.
			require.Equal(t, http.StatusBadRequest, rec.Code, "%s", rec.Body)
			return
		}
		file := testenv.DecodeInto[realtime.File](t, rec.Body.Bytes())
		require.True(t, utf8.ValidString(file.Name), "%q", file.Name)
		require.NotEmpty(t, file.Name)
		require.LessOrEqual(t, len(file.Name), 255)
		require.NotContains(t, file.Name, "/")
		require.NotContains(t, file.Name, `\`)
		require.NotEqual(t, "..", file.Name)
		for _, r := range file.Name {
			require.False(t, unicode.IsControl(r) || unicode.Is(unicode.Cf, r), "%q", file.Name)
		}

		req = httptest.NewRequest(http.MethodGet, "/"+file.ID, nil)
		req.Header.Set("Authorization", "Bearer alice")
		rec = httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		_, params, err := mime.ParseMediaType(rec.Header().Get("Content-Disposition"))
		require.NoError(t, err)
		require.Equal(t, file.Name, params["filename"])
		require.NoError(t, blobs.Delete(context.Background(), file.ID))
	})
}

// memBlobs is a BlobStore in memory, which keeps fuzzing off the disk.
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) Put(_ context.Context, id string, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[id] = data
	return nil
}

func (b *memBlobs) Open(_ context.Context, id string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[id]
	if !ok {
		return nil, realtime.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *memBlobs) Delete(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, id)
	return nil
}
