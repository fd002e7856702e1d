// Package socketio lets Socket.IO clients (socket.io-client for browsers
// and Node, and its Java, Swift, Dart and other ports) talk to a
// realtime.Hub directly, in the same rooms as native realtime.v1 clients,
// with the same events:
//
//	hub, err := realtime.New(cfg)
//	...
//	sio, err := socketio.New(hub, socketio.Options{AllowedOrigins: cfg.AllowedOrigins})
//	...
//	mux.Handle("/ws", hub)
//	mux.Handle("/socket.io/", sio)
//
// A client connects with io(url, {auth: {token}}) (or the Authorization
// header, or a token query parameter), emits the events of PROTOCOL.md
// section 3 with socket.emit(name, data, ack) and receives the Hub's
// pushes as events of the same names. The ack callback receives one
// argument, {data} or {error: {code, message}}. PROTOCOL.md section 7
// is the whole mapping.
//
// # Protocols
//
// The Server implements Engine.IO v4 (handshake, long-polling with
// \x1e-joined payloads, WebSocket, the upgrade from the first to the
// second with its probe, server pings and the ping timeout) and Socket.IO
// v5 (CONNECT with its auth payload, CONNECT_ERROR, DISCONNECT, EVENT,
// ACK) on the main namespace "/"; any other namespace is refused with
// CONNECT_ERROR "Invalid namespace". Events with binary arguments are
// answered with an invalid error: the Hub's protocol is JSON. Clients of
// Socket.IO v2 (Engine.IO v3) are refused with 400.
//
// Each Socket.IO connection to "/" is one Hub connection, served by
// Hub.ServeTransport: authentication, hooks, rate limits, rooms, resume
// with since and the send queue are the Hub's, with no second copy of
// any of them here. The Socket.IO layers are internal; the official
// protocol test suite runs against them through a conformance server
// (socketio/internal/conformance).
//
// # Lifecycle and concurrency
//
// New validates Options once; the Server is then safe for concurrent
// use. An Engine.IO session has one reader (its WebSocket's, or the
// long-polling request in flight) and one timer for pings; its Socket.IO
// connection to "/" is a Hub connection. The session's reader hands its
// events to the Hub, whose goroutine runs only while there are events to
// handle (an idle connection costs the session's goroutine alone), and a
// writer goroutine runs while there is something to send. Packets of one
// connection are handled in order. A client
// that does not read is dropped as a native one is: behind at most
// MaxPayload bytes waiting for its next long-polling GET (or a full TCP
// window), the Hub's writer waits until Config.WriteTimeout, its send
// queue (Config.SendQueueBytes) fills, and the connection ends.
//
// Shutdown closes every session gracefully and waits for them; Close
// drops them. Shut the Server down before the Hub, so that its clients
// reconnect elsewhere instead of being refused.
//
// # Security defaults
//
// Cross-origin requests are refused with 403 unless Options.AllowedOrigins
// names the origin (give it the Hub's Config.AllowedOrigins); requests
// without Origin and same-origin requests pass. Every WebSocket message
// and long-polling request body is capped by Options.MaxPayload; a larger
// one, a malformed packet, an unknown or expired session id (400
// {"code":1,"message":"Session ID unknown"}), a second concurrent GET or
// POST of one session, or a missed ping ends the session.
//
// # Several nodes
//
// A WebSocket session lives on one TCP connection and needs nothing from
// a load balancer. A long-polling session is a series of HTTP requests
// that must all reach the node that holds the session, the one that
// answered the handshake: a request that reaches another node gets 400
// "Session ID unknown" and the client starts over. Behind several nodes,
// either configure clients with transports: ["websocket"], or make the
// load balancer sticky. With nginx, by client address:
//
//	upstream realtime {
//	    ip_hash;
//	    server 10.0.0.1:8080;
//	    server 10.0.0.2:8080;
//	}
//	server {
//	    location /socket.io/ {
//	        proxy_pass http://realtime;
//	        proxy_http_version 1.1;
//	        proxy_set_header Upgrade $http_upgrade;
//	        proxy_set_header Connection "upgrade";
//	        proxy_set_header Host $host;
//	        proxy_read_timeout 60s; # above PingInterval + PingTimeout
//	    }
//	}
//
// or with HAProxy, by cookie, so that clients behind one NAT still spread
// over the nodes (socket.io-client keeps and sends the cookie with
// withCredentials: true, in browsers and, since engine.io-client 6.5, in
// Node):
//
//	backend realtime
//	    balance roundrobin
//	    cookie SERVERID insert indirect nocache
//	    server n1 10.0.0.1:8080 check cookie n1
//	    server n2 10.0.0.2:8080 check cookie n2
//
// The rooms themselves span nodes through the Hub's Adapter as for native
// clients. The bridge does not forward long-polling requests between
// nodes: the Broker carries pushes, not request and response pairs, and
// forwarding each poll would add a hop and a second data path to every
// message of the sessions that need it least.
package socketio
