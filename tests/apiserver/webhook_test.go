package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	kjson "sigs.k8s.io/json"
)

const (
	testToken      = "replay-test-token"
	testClientName = "replay-client"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate,
// written as PEM files for the kubeconfig.
type testPKI struct {
	caPool                        *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	caKey := newKey(t)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "replay-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, name string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		template := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	serverDER, serverKey := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	clientDER, clientKey := issue(3, testClientName, x509.ExtKeyUsageClientAuth, nil)

	p := testPKI{
		caPool:     x509.NewCertPool(),
		server:     tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		caFile:     filepath.Join(dir, "ca.crt"),
		clientCert: filepath.Join(dir, "client.crt"),
		clientKey:  filepath.Join(dir, "client.key"),
	}
	p.caPool.AddCert(ca)
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	writePEM(t, p.clientCert, "CERTIFICATE", clientDER)
	keyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.clientKey, "EC PRIVATE KEY", keyDER)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// receiver is an audit webhook that requires the client certificate and the
// bearer token, and counts the events of each EventList it accepts.
type receiver struct {
	t *testing.T
	// status answers request number n (from 1); 200 when nil.
	status func(n int) int

	mu       sync.Mutex
	requests int
	accepted map[string]int
	sizes    []int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if problem := checkRequest(r, body); problem != "" {
		rc.t.Errorf("bad webhook request: %s", problem)
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	var list auditv1.EventList
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &list); err != nil {
		rc.t.Errorf("body is not an EventList: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	code := http.StatusOK
	if rc.status != nil {
		code = rc.status(rc.requests)
	}
	if code == http.StatusOK {
		rc.sizes = append(rc.sizes, len(list.Items))
		for _, item := range list.Items {
			raw, err := json.Marshal(&item)
			if err != nil {
				rc.t.Errorf("re-encoding an item: %v", err)
				continue
			}
			rc.accepted[canonical(rc.t, raw)]++
		}
	}
	w.WriteHeader(code)
}

func checkRequest(r *http.Request, body []byte) string {
	switch {
	case r.Method != http.MethodPost:
		return "method " + r.Method
	case r.Header.Get("Content-Type") != "application/json":
		return "content type " + r.Header.Get("Content-Type")
	case r.Header.Get("Authorization") != "Bearer "+testToken:
		return "authorization header " + r.Header.Get("Authorization")
	case r.TLS == nil || len(r.TLS.PeerCertificates) == 0:
		return "no client certificate"
	case r.TLS.PeerCertificates[0].Subject.CommonName != testClientName:
		return "client certificate " + r.TLS.PeerCertificates[0].Subject.CommonName
	case !strings.Contains(string(body), `"kind":"EventList","apiVersion":"audit.k8s.io/v1"`):
		return fmt.Sprintf("body is not an audit.k8s.io/v1 EventList: %.100s", body)
	}
	return ""
}

// startReceiver serves rc over TLS with a client certificate required, and writes
// a kubeconfig for it with the CA, the client certificate and the token.
func startReceiver(t *testing.T, dir string, rc *receiver) string {
	t.Helper()
	rc.t = t
	rc.accepted = map[string]int{}
	pki := newTestPKI(t, dir)
	srv := httptest.NewUnstartedServer(rc)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.caPool,
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	kubeconfig := filepath.Join(dir, "webhook.kubeconfig")
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: receiver
  cluster:
    server: %s/audit
    certificate-authority: %s
users:
- name: apiserver
  user:
    client-certificate: %s
    client-key: %s
    token: %s
contexts:
- name: default
  context:
    cluster: receiver
    user: apiserver
current-context: default
`, srv.URL, pki.caFile, pki.clientCert, pki.clientKey, testToken)
	if err := os.WriteFile(kubeconfig, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

func (rc *receiver) snapshot() (int, map[string]int, []int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, rc.accepted, append([]int(nil), rc.sizes...)
}

func TestWebhookDeliversEveryEventOverMutualTLS(t *testing.T) {
	const repeat, batch = 20, 7
	dir := t.TempDir()
	lines := testEvents()
	rc := &receiver{}
	kubeconfig := startReceiver(t, dir, rc)
	r := runReplay(t, "webhook", "--kubeconfig", kubeconfig, "--events", writeCorpus(t, dir, lines),
		"--repeat", strconv.Itoa(repeat), "--batch-max-size", strconv.Itoa(batch), "--batch-max-wait", "200ms")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.Events != len(lines)*repeat || s.Dropped != 0 {
		t.Fatalf("summary %+v, want %d events and 0 dropped", s, len(lines)*repeat)
	}
	requests, accepted, sizes := rc.snapshot()
	for _, n := range sizes {
		if n > batch {
			t.Errorf("a batch of %d events, over --batch-max-size %d", n, batch)
		}
	}
	if min := (len(lines)*repeat + batch - 1) / batch; requests < min {
		t.Errorf("%d requests, want at least %d", requests, min)
	}
	compareCounts(t, accepted, expectedCounts(t, lines, repeat))
}

func TestWebhookRetriesUntilTheReceiverAccepts(t *testing.T) {
	dir := t.TempDir()
	lines := testEvents()
	rc := &receiver{status: func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}}
	kubeconfig := startReceiver(t, dir, rc)
	r := runReplay(t, "webhook", "--kubeconfig", kubeconfig, "--events", writeCorpus(t, dir, lines),
		"--initial-backoff", "50ms", "--batch-max-wait", "100ms")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.Events != len(lines) || s.Dropped != 0 {
		t.Fatalf("summary %+v, want %d events and 0 dropped", s, len(lines))
	}
	requests, accepted, _ := rc.snapshot()
	if requests < 3 {
		t.Errorf("%d requests, want at least 3 (two answered 500, then retries answered 200)", requests)
	}
	compareCounts(t, accepted, expectedCounts(t, lines, 1))
}

func TestWebhookDropAfterRetriesIsReported(t *testing.T) {
	dir := t.TempDir()
	lines := testEvents()
	rc := &receiver{status: func(int) int { return http.StatusServiceUnavailable }}
	kubeconfig := startReceiver(t, dir, rc)
	r := runReplay(t, "webhook", "--kubeconfig", kubeconfig, "--events", writeCorpus(t, dir, lines),
		"--initial-backoff", "10ms", "--batch-max-wait", "100ms")
	if r.code != exitDropped {
		t.Fatalf("exit %d, want %d\nstderr: %s", r.code, exitDropped, r.stderr)
	}
	if s := parseSummary(t, r); s.Events != len(lines) || s.Dropped != int64(len(lines)) {
		t.Fatalf("summary %+v, want %d events, all dropped", s, len(lines))
	}
	// The batcher may cut the corpus into several batches (it sends what it has when
	// the replay stops), and each batch is given up on its own after 5 attempts.
	failures := webhookFailure.FindAllStringSubmatch(r.stderr, -1)
	affected := 0
	for _, m := range failures {
		n, _ := strconv.Atoi(m[1])
		affected += n
	}
	if len(failures) == 0 || affected != len(lines) {
		t.Errorf("kube's klog lines report %d of %d events in %d batches as lost:\n%s", affected, len(lines), len(failures), r.stderr)
	}
	if requests, _, _ := rc.snapshot(); requests != 5*len(failures) {
		t.Errorf("%d attempts for %d batches, want kube's 5 backoff steps each", requests, len(failures))
	}
}

var webhookFailure = regexp.MustCompile(`Error in audit plugin 'webhook' affecting (\d+) audit events`)

func TestWebhookBufferOverflowIsCounted(t *testing.T) {
	const repeat = 20
	dir := t.TempDir()
	lines := testEvents()
	rc := &receiver{}
	kubeconfig := startReceiver(t, dir, rc)
	// One event per batch at 20 batches/s: the corpus is handed over in well under
	// the 50 ms the first batch holds the sender, so the 10-slot buffer overflows.
	r := runReplay(t, "webhook", "--kubeconfig", kubeconfig, "--events", writeCorpus(t, dir, lines),
		"--repeat", strconv.Itoa(repeat), "--buffer-size", "10", "--batch-max-size", "1",
		"--throttle-qps", "20", "--throttle-burst", "1")
	if r.code != exitDropped {
		t.Fatalf("exit %d, want %d\nstderr: %s", r.code, exitDropped, r.stderr)
	}
	s := parseSummary(t, r)
	_, accepted, _ := rc.snapshot()
	received := 0
	for _, n := range accepted {
		received += n
	}
	if s.Dropped == 0 || int64(received)+s.Dropped != int64(s.Events) {
		t.Errorf("summary %+v with %d received: want drops, and received + dropped = events", s, received)
	}
	if !strings.Contains(r.stderr, "audit buffer queue blocked") {
		t.Errorf("stderr lacks kube's buffer overflow message:\n%s", r.stderr)
	}
}

func TestWebhookBlockingModeSendsEachEventAlone(t *testing.T) {
	dir := t.TempDir()
	lines := testEvents()
	rc := &receiver{}
	kubeconfig := startReceiver(t, dir, rc)
	r := runReplay(t, "webhook", "--mode", "blocking", "--kubeconfig", kubeconfig, "--events", writeCorpus(t, dir, lines),
		"--repeat", "2")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	requests, accepted, sizes := rc.snapshot()
	if requests != 2*len(lines) {
		t.Errorf("%d requests, want one per event (%d)", requests, 2*len(lines))
	}
	for _, n := range sizes {
		if n != 1 {
			t.Errorf("an EventList of %d events in blocking mode", n)
		}
	}
	compareCounts(t, accepted, expectedCounts(t, lines, 2))
}
