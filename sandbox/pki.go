package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the sandbox's certificate material and static tokens. It is reused
// across restarts while valid so kubeconfig copies keep working.
type pki struct {
	dir         string
	caPEM       []byte
	adminToken  string
	viewerToken string
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func (p *pki) caCert() string           { return p.path("ca.crt") }
func (p *pki) caKey() string            { return p.path("ca.key") }
func (p *pki) servingCert() string      { return p.path("apiserver.crt") }
func (p *pki) servingKey() string       { return p.path("apiserver.key") }
func (p *pki) saKey() string            { return p.path("sa.key") }
func (p *pki) tokensFile() string       { return p.path("tokens.csv") }
func (p *pki) componentsConfig() string { return p.path("admin.kubeconfig") }

// The aggregation layer: kube-apiserver proxies to aggregated APIs as
// front-proxy-client (a client certificate of a CA of its own, as kubeadm
// sets it up), and metrics-server serves with a certificate of the
// sandbox CA for its Service name, which its APIService's caBundle trusts.
func (p *pki) frontProxyCA() string        { return p.path("front-proxy-ca.crt") }
func (p *pki) frontProxyCAKey() string     { return p.path("front-proxy-ca.key") }
func (p *pki) frontProxyClient() string    { return p.path("front-proxy-client.crt") }
func (p *pki) frontProxyClientKey() string { return p.path("front-proxy-client.key") }
func (p *pki) metricsServerCert() string   { return p.path("metrics-server.crt") }
func (p *pki) metricsServerKey() string    { return p.path("metrics-server.key") }
func (p *pki) nodeCert() string            { return p.path("node.crt") }
func (p *pki) nodeKey() string             { return p.path("node.key") }

const frontProxyClientName = "front-proxy-client"

var metricsServerDNS = []string{"metrics-server", "metrics-server.kube-system", "metrics-server.kube-system.svc", "localhost"}

// ensureComponentCerts creates the front-proxy, metrics-server and node
// (node-exec's kubelet endpoint) certificates when any is missing or
// unreadable, leaving the rest of the PKI (and so
// every kubeconfig and token) as it is.
func (p *pki) ensureComponentCerts() error {
	ok := true
	for _, pair := range [][2]string{
		{p.frontProxyCA(), p.frontProxyCAKey()},
		{p.frontProxyClient(), p.frontProxyClientKey()},
		{p.metricsServerCert(), p.metricsServerKey()},
		{p.nodeCert(), p.nodeKey()},
	} {
		if _, err := tls.LoadX509KeyPair(pair[0], pair[1]); err != nil {
			ok = false
		}
	}
	if ok {
		return nil
	}
	now := time.Now().Add(-time.Hour)
	fpDER, fpKey, err := newCA("k8sh-sandbox-front-proxy-ca", now)
	if err != nil {
		return err
	}
	fpCert, err := x509.ParseCertificate(fpDER)
	if err != nil {
		return err
	}
	clientDER, clientKey, err := issue(fpCert, fpKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: frontProxyClientName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, now)
	if err != nil {
		return err
	}
	ca, err := tls.LoadX509KeyPair(p.caCert(), p.caKey())
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return err
	}
	caKey, ok := ca.PrivateKey.(crypto.Signer)
	if !ok {
		return errors.New("ca.key is not a signing key")
	}
	msDER, msKey, err := issue(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "metrics-server"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    metricsServerDNS,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, now)
	if err != nil {
		return err
	}
	nodeDER, nodeKey, err := issue(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "system:node:" + nodeName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{nodeName, "localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, now)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{p.nodeCert(), pemBytes("CERTIFICATE", nodeDER)},
		{p.nodeKey(), mustPKCS8(nodeKey)},
		{p.frontProxyCA(), pemBytes("CERTIFICATE", fpDER)},
		{p.frontProxyCAKey(), mustPKCS8(fpKey)},
		{p.frontProxyClient(), pemBytes("CERTIFICATE", clientDER)},
		{p.frontProxyClientKey(), mustPKCS8(clientKey)},
		{p.metricsServerCert(), pemBytes("CERTIFICATE", msDER)},
		{p.metricsServerKey(), mustPKCS8(msKey)},
	} {
		if err := writeFileAtomic(f.name, f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// newCA makes a self-signed CA of a new P-256 key, valid for ten years.
func newCA(cn string, now time.Time) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	return der, key, err
}

// issue signs a new P-256 key's certificate from tmpl (subject, usages,
// names) with the CA, valid for five years from now.
func issue(ca *x509.Certificate, caKey crypto.Signer, tmpl *x509.Certificate, now time.Time) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = randSerial()
	tmpl.NotBefore = now
	tmpl.NotAfter = now.Add(5 * 365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	return der, key, err
}

var servingDNS = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}

// ensurePKI loads the PKI from dir, or (re)creates it if anything is missing or stale.
func ensurePKI(dir string) (*pki, error) {
	p := &pki{dir: dir}
	if err := p.load(); err == nil {
		return p, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := p.generate(); err != nil {
		return nil, fmt.Errorf("generating PKI: %w", err)
	}
	if err := p.load(); err != nil {
		return nil, fmt.Errorf("loading fresh PKI: %w", err)
	}
	return p, nil
}

// loadPKI loads an existing PKI without creating anything.
func loadPKI(dir string) (*pki, error) {
	p := &pki{dir: dir}
	return p, p.load()
}

func (p *pki) load() error {
	ca, err := os.ReadFile(p.caCert())
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return errors.New("bad ca.crt")
	}
	pair, err := tls.LoadX509KeyPair(p.servingCert(), p.servingKey())
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	if time.Until(leaf.NotAfter) < 7*24*time.Hour {
		return errors.New("serving cert expires soon")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "kubernetes.default.svc"}); err != nil {
		return err
	}
	if _, err := tls.LoadX509KeyPair(p.caCert(), p.caKey()); err != nil {
		return err
	}
	if _, err := os.Stat(p.saKey()); err != nil {
		return err
	}
	f, err := os.Open(p.tokensFile())
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if len(rec) < 3 {
			continue
		}
		switch rec[1] {
		case "admin":
			p.adminToken = rec[0]
		case "viewer":
			p.viewerToken = rec[0]
		}
	}
	if p.adminToken == "" || p.viewerToken == "" {
		return errors.New("tokens.csv lacks admin or viewer")
	}
	p.caPEM = ca
	return nil
}

func (p *pki) generate() error {
	now := time.Now().Add(-time.Hour)
	caDER, caKey, err := newCA("k8sh-sandbox-ca", now)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvDER, srvKey, err := issue(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    servingDNS,
		// 127.2.0.1 is the ClusterIP of the kubernetes Service (serviceCIDR).
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 2, 0, 1)},
	}, now)
	if err != nil {
		return err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}

	files := []struct {
		name string
		data []byte
	}{
		{"ca.crt", pemBytes("CERTIFICATE", caDER)},
		{"ca.key", mustPKCS8(caKey)},
		{"apiserver.crt", pemBytes("CERTIFICATE", srvDER)},
		{"apiserver.key", mustPKCS8(srvKey)},
		{"sa.key", pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey))},
		{"tokens.csv", []byte(fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,viewer,viewer\n", randToken(), randToken()))},
	}
	for _, f := range files {
		if err := writeFileAtomic(p.path(f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func mustPKCS8(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pemBytes("PRIVATE KEY", der)
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func randToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
