package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"buildledger/client"
	"buildledger/domain"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/projections"
)

// The arguments of dynostore's sample usage: createBuild(u, r, t, ['BrowserA', 'BrowserB']).
var (
	sampleUser     = "api"
	sampleRepo     = "foo"
	sampleTag      = "master"
	sampleBrowsers = []string{"BrowserA", "BrowserB"}
)

// dynostoreSample is dynostore's documented sample run, read from its sample output
// (testdata/dynostore_sample_output.txt, verbatim from dynostore's README): the build id
// createBuild returned and, after the creation and after each updateBuild, the repo and the
// build it printed.
type dynostoreSample struct {
	buildID int
	steps   []sampleStep
}

// sampleStep is the creation (update nil) or one updateBuild of the sample, with the views
// printed after it, as JSON values (strings, float64 numbers, booleans, nil).
type sampleStep struct {
	call   string
	update *domain.UpdateBuild
	repo   map[string]any
	build  map[string]any
}

var sampleUpdateCall = regexp.MustCompile(`^updateBuild\(u, r, buildID, '([^']*)', '([^']*)', (true|false)\)$`)

func loadDynostoreSample(t *testing.T) dynostoreSample {
	t.Helper()
	raw, err := os.ReadFile("testdata/dynostore_sample_output.txt")
	if err != nil {
		t.Fatal(err)
	}
	var (
		s       dynostoreSample
		objects []map[string]any
		object  strings.Builder
	)
	step := sampleStep{call: fmt.Sprintf("createBuild(u, r, t, ['%s'])", strings.Join(sampleBrowsers, "', '"))}
	flush := func() {
		if len(objects) != 2 {
			t.Fatalf("dynostore sample: %s is followed by %d views, want the repo and the build", step.call, len(objects))
		}
		step.repo, step.build = objects[0], objects[1]
		s.steps = append(s.steps, step)
		objects = nil
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		switch m := sampleUpdateCall.FindStringSubmatch(line); {
		case object.Len() > 0 || strings.HasPrefix(line, "{"):
			object.WriteString(line)
			if strings.HasSuffix(line, "}") {
				objects = append(objects, decodeJSObject(t, object.String()))
				object.Reset()
			}
		case strings.HasPrefix(line, "buildID="):
			if s.buildID, err = strconv.Atoi(strings.TrimPrefix(line, "buildID=")); err != nil {
				t.Fatalf("dynostore sample: %q: %v", line, err)
			}
		case m != nil:
			flush()
			step = sampleStep{call: line, update: &domain.UpdateBuild{
				User: sampleUser, Repo: sampleRepo, BuildID: s.buildID, Browser: m[1], Status: m[2], Finished: m[3] == "true",
			}}
		default:
			t.Fatalf("dynostore sample: unexpected line %q", line)
		}
	}
	flush()
	if s.buildID != 1 || len(s.steps) != 5 {
		t.Fatalf("dynostore sample: read build id %d and %d steps, want 1 and 5", s.buildID, len(s.steps))
	}
	return s
}

// decodeJSObject reads an object as node's console.log prints it ({ user: 'api', 'a-b': true,
// n: 1, x: null }) into its JSON value.
func decodeJSObject(t *testing.T, src string) map[string]any {
	t.Helper()
	var out strings.Builder
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\'':
			end := strings.IndexByte(src[i+1:], '\'')
			if end < 0 {
				t.Fatalf("dynostore sample: unterminated string in %s", src)
			}
			q, _ := json.Marshal(src[i+1 : i+1+end])
			out.Write(q)
			i += end + 2
		case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '$' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			switch word := src[i:j]; word {
			case "null", "true", "false":
				out.WriteString(word)
			default:
				q, _ := json.Marshal(word)
				out.Write(q)
			}
			i = j
		default:
			out.WriteByte(c)
			i++
		}
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out.String()), &v); err != nil {
		t.Fatalf("dynostore sample: %s: %v", src, err)
	}
	return v
}

// sameView fails the test unless got, a JSON document, has exactly the keys, values and
// JSON types of the sample's view.
func sameView(t *testing.T, what string, got []byte, want map[string]any) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s is not a JSON object (%v): %s", what, err, got)
	}
	if !reflect.DeepEqual(v, want) {
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(v)
		t.Errorf("%s differs from the sample output\n got: %s\nwant: %s", what, g, w)
	}
}

// installationClients are what a program of its own uses to talk to an installation, built
// by the composition root: a client sending commands to its queue and waiting for them, its
// event store and its read models.
type installationClients struct {
	commands *client.Client
	events   *esdynamo.Store
	queries  *projections.Queries
}

func (in *installation) clients(t *testing.T) installationClients {
	t.Helper()
	a, ep := in.messaging(t)
	commands, err := a.Client(ep.CommandsQueueURL)
	if err != nil {
		t.Fatal(err)
	}
	return installationClients{commands: commands, events: a.Events, queries: a.Queries}
}

func TestGivenAWorker_WhenTheDynostoreSampleIsSentAsSQSCommands_ThenTheReadTablesShowTheSampleOutputAtEveryStep(t *testing.T) {
	t.Parallel()
	sample := loadDynostoreSample(t)
	in := newInstallation(t, "e2e-dynostore-sqs")
	in.startWorker(t)
	c := in.clients(t)

	buildID := 0
	for _, step := range sample.steps {
		ok := t.Run(step.call, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var cmd domain.Command = domain.CreateBuild{User: sampleUser, Repo: sampleRepo, Tag: sampleTag, Browsers: sampleBrowsers}
			if step.update != nil {
				cmd = *step.update
			}
			o, err := c.commands.Do(ctx, cmd)
			if err != nil {
				t.Fatalf("%s: %v", cmd.CommandType(), err)
			}
			if step.update == nil {
				buildID = createdBuildID(ctx, t, c.events, o.Stream, o.FirstVersion, o.LastVersion)
				if buildID != sample.buildID {
					t.Fatalf("createBuild returned build %d, the sample %d", buildID, sample.buildID)
				}
			}
			repo, err := c.queries.Repo(ctx, sampleUser, sampleRepo)
			if err != nil {
				t.Fatalf("getRepo: %v", err)
			}
			build, err := c.queries.Build(ctx, sampleUser, sampleRepo, buildID)
			if err != nil {
				t.Fatalf("getBuild: %v", err)
			}
			repoJSON, _ := json.Marshal(repo)
			buildJSON, _ := json.Marshal(build)
			sameView(t, "getRepo", repoJSON, step.repo)
			sameView(t, "getBuild", buildJSON, step.build)
		})
		if !ok {
			return
		}
	}
}

// createdBuildID reads the build id a CreateBuild assigned from the events it recorded.
func createdBuildID(ctx context.Context, t *testing.T, events *esdynamo.Store, stream string, first, last int64) int {
	t.Helper()
	recs, err := events.LoadRange(ctx, stream, first, last)
	if err != nil {
		t.Fatalf("load %s %d..%d: %v", stream, first, last, err)
	}
	for _, r := range recs {
		if r.Type == "BuildCreated" {
			var e domain.BuildCreated
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatal(err)
			}
			return e.BuildID
		}
	}
	t.Fatalf("no BuildCreated event among %s %d..%d", stream, first, last)
	return 0
}

func TestGivenAWorker_WhenTheDynostoreSampleIsRunWithTheCLI_ThenReposGetAndBuildsGetPrintTheSampleOutputAtEveryStep(t *testing.T) {
	t.Parallel()
	sample := loadDynostoreSample(t)
	in := newInstallation(t, "e2e-dynostore-cli")
	in.startWorker(t)
	id := strconv.Itoa(sample.buildID)
	repo := []string{"--user", sampleUser, "--repo", sampleRepo}

	for _, step := range sample.steps {
		ok := t.Run(step.call, func(t *testing.T) {
			if step.update == nil {
				out := in.ok(t, append([]string{"builds", "create", "--tag", sampleTag, "--browsers", strings.Join(sampleBrowsers, ",")}, repo...)...)
				if out != id+"\n" {
					t.Fatalf("builds create printed %q, want the build id %s", out, id)
				}
			} else {
				args := append([]string{"builds", "update", "--build", id, "--browser", step.update.Browser, "--status", step.update.Status}, repo...)
				if step.update.Finished {
					args = append(args, "--finished")
				}
				sameView(t, "builds update", []byte(in.ok(t, args...)), step.build)
			}
			sameView(t, "repos get", []byte(in.ok(t, append([]string{"repos", "get"}, repo...)...)), step.repo)
			sameView(t, "builds get", []byte(in.ok(t, append([]string{"builds", "get", "--build", id}, repo...)...)), step.build)
		})
		if !ok {
			return
		}
	}
}
