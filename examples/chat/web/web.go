// Package web holds the chat example's browser UI: plain HTML, CSS and
// JavaScript, no build step, embedded in the binary.
package web

import "embed"

// Files are the UI's files, served at the site's root.
//
//go:embed index.html app.js style.css
var Files embed.FS
