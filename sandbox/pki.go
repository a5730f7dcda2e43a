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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "k8sh-sandbox-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     servingDNS,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, srvKey.Public(), caKey)
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
