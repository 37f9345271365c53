package main

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readLogLines returns every line of the log and its backups (gunzipping .gz), and
// the names of the files.
func readLogLines(t *testing.T, dir string) ([][]byte, []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(e.Name(), ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			r = gz
		}
		scanner := bufio.NewScanner(r)
		scanner.Buffer(make([]byte, 0, 64*1024), 4<<20)
		for scanner.Scan() {
			lines = append(lines, append([]byte(nil), scanner.Bytes()...))
		}
		if err := scanner.Err(); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		f.Close()
	}
	return lines, names
}

func TestLogModeRotatesAndKeepsEveryEvent(t *testing.T) {
	const repeat = 1500 // about 4.5 MB of log at --max-size-mb 1
	lines := testEvents()
	for _, compress := range []bool{false, true} {
		t.Run("compress="+strconv.FormatBool(compress), func(t *testing.T) {
			dir := t.TempDir()
			corpus := writeCorpus(t, dir, lines)
			logDir := filepath.Join(dir, "log")
			args := []string{"log", "--path", filepath.Join(logDir, "audit.log"), "--events", corpus,
				"--repeat", strconv.Itoa(repeat), "--max-size-mb", "1"}
			if compress {
				args = append(args, "--compress")
			}
			r := runReplay(t, args...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
			}
			s := parseSummary(t, r)
			if s.Events != len(lines)*repeat || s.Skipped != 0 || s.Dropped != 0 {
				t.Fatalf("summary %+v, want %d events, 0 skipped, 0 dropped", s, len(lines)*repeat)
			}

			got, names := readLogLines(t, logDir)
			backups := 0
			for _, name := range names {
				if name == "audit.log" {
					continue
				}
				if !strings.HasPrefix(name, "audit-") {
					t.Errorf("unexpected file %s", name)
				}
				if compress != strings.HasSuffix(name, ".log.gz") {
					t.Errorf("backup %s: compressed=%v expected", name, compress)
				}
				info, err := os.Stat(filepath.Join(logDir, name))
				if err != nil {
					t.Fatal(err)
				}
				if !compress && info.Size() > 1<<20 {
					t.Errorf("backup %s is %d bytes, over --max-size-mb 1", name, info.Size())
				}
				backups++
			}
			if backups < 3 {
				t.Fatalf("%d rotations, want at least 3 (files: %v)", backups, names)
			}

			counts := map[string]int{}
			for _, line := range got {
				if !strings.HasPrefix(string(line), `{"kind":"Event","apiVersion":"audit.k8s.io/v1",`) {
					t.Fatalf("log line is not an audit.k8s.io/v1 Event: %.120s", line)
				}
				counts[canonical(t, line)]++
			}
			if len(got) != len(lines)*repeat {
				t.Errorf("%d lines in the log files, want %d", len(got), len(lines)*repeat)
			}
			compareCounts(t, counts, expectedCounts(t, lines, repeat))
		})
	}
}

func TestLogModeConvertsV1beta1AndSkipsOtherVersions(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		testEvents()[0],
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","metadata":{"creationTimestamp":"2019-05-01T10:00:02Z"},"timestamp":"2019-05-01T10:00:01Z","level":"Metadata","auditID":"b1","stage":"ResponseComplete","requestURI":"/version","verb":"get","user":{"username":"carol"}}`,
		``,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1alpha1","level":"Metadata","auditID":"c1","stage":"ResponseComplete","requestURI":"/version","verb":"get","user":{}}`,
	}
	corpus := writeCorpus(t, dir, lines)
	logDir := filepath.Join(dir, "log")
	r := runReplay(t, "log", "--path", filepath.Join(logDir, "audit.log"), "--events", corpus)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.Events != 2 || s.Skipped != 1 {
		t.Fatalf("summary %+v, want 2 events and 1 skipped", s)
	}
	if !strings.Contains(r.stderr, corpus+":4: skipped") {
		t.Errorf("stderr does not name the skipped line: %s", r.stderr)
	}
	got, _ := readLogLines(t, logDir)
	var converted string
	for _, line := range got {
		if strings.Contains(string(line), `"auditID":"b1"`) {
			converted = string(line)
		}
	}
	for _, want := range []string{`"requestReceivedTimestamp":"2019-05-01T10:00:01.000000Z"`, `"stageTimestamp":"2019-05-01T10:00:02.000000Z"`} {
		if !strings.Contains(converted, want) {
			t.Errorf("converted v1beta1 event lacks %s: %s", want, converted)
		}
	}
}

func TestBadInputIsAClearError(t *testing.T) {
	dir := t.TempDir()
	good := writeCorpus(t, dir, testEvents()[:1])
	broken := filepath.Join(dir, "broken.jsonl")
	if err := os.WriteFile(broken, []byte(testEvents()[0]+"\n{\"level\": 3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no mode", nil, exitUsage, "a mode is required"},
		{"unknown mode", []string{"decide"}, exitUsage, `unknown mode "decide"`},
		{"unknown flag", []string{"log", "--path", dir + "/a.log", "--events", good, "--bogus"}, exitUsage, "-bogus"},
		{"missing events", []string{"log", "--path", dir + "/a.log"}, exitUsage, "--events is required"},
		{"bad repeat", []string{"log", "--path", dir + "/a.log", "--events", good, "--repeat", "0"}, exitUsage, "--repeat"},
		{"negative size", []string{"log", "--path", dir + "/a.log", "--events", good, "--max-size-mb", "-1"}, exitUsage, "--max-size-mb"},
		{"throttle conflict", []string{"webhook", "--kubeconfig", "k", "--events", good, "--no-throttle", "--throttle-qps", "5"}, exitUsage, "--no-throttle"},
		{"unreadable corpus", []string{"log", "--path", dir + "/a.log", "--events", dir + "/absent.jsonl"}, exitFailure, "absent.jsonl"},
		{"malformed line", []string{"log", "--path", dir + "/a.log", "--events", broken}, exitFailure, broken + ":2:"},
		{"missing kubeconfig", []string{"webhook", "--kubeconfig", dir + "/absent.kubeconfig", "--events", good}, exitFailure, "absent.kubeconfig"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runReplay(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.contains) {
				t.Errorf("stderr lacks %q: %s", tc.contains, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout should be empty on failure: %q", r.stdout)
			}
		})
	}
}
