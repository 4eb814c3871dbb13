package board

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

// assets are the page's template, stylesheet and script, compiled into the binary.
//
//go:embed assets
var assets embed.FS

// templates are the board's templates: "page" (the whole document) and "sections" (what
// /board/fragment answers and the page's script swaps in).
var templates = template.Must(template.New("board").Funcs(template.FuncMap{
	"statusClass": statusClass,
}).ParseFS(assets, "assets/*.html"))

// assetHandler serves the stylesheet and script under AssetsPath; they change only with
// the binary, so browsers may keep them for a while.
func assetHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded folder exists: a build without it does not compile
	}
	files := http.StripPrefix(AssetsPath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, AssetsPath)
		if !strings.HasSuffix(name, ".css") && !strings.HasSuffix(name, ".js") {
			http.NotFound(w, r) // the templates and the folder listing stay private
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// statusClass names the colour of a build browser's status. CI systems report free-form
// statuses; the common words get a colour, the rest stay neutral.
func statusClass(status string) string {
	switch strings.ToLower(status) {
	case "queued", "pending", "waiting":
		return "st-queued"
	case "running", "started", "building", "in-progress", "in_progress":
		return "st-running"
	case "passed", "pass", "success", "succeeded", "ok", "finished", "done", "green":
		return "st-passed"
	case "failed", "fail", "failure", "error", "errored", "broken", "red":
		return "st-failed"
	case "skipped", "cancelled", "canceled", "aborted":
		return "st-skipped"
	}
	return "st-other"
}
