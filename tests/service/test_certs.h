// Certificates for TLS tests (a self-signed server certificate for
// 127.0.0.1 and localhost, client certificates signed by a test CA), made
// with OpenSSL at test time, so that TLS tests need no files checked in and no
// `openssl` command.
#ifndef CONVERSIONS_TESTS_SERVICE_TEST_CERTS_H_
#define CONVERSIONS_TESTS_SERVICE_TEST_CERTS_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>

namespace conversions::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

// A P-256 key and a certificate valid from an hour ago for a day, named
// `cn`, with the subject alternative names `san` (none when empty), a CA
// when `is_ca`; signed by `issuer` (a CA made here), or by itself when
// `issuer` is null. Empty strings when OpenSSL fails.
inline TestCert MakeCert(const char* cn, const char* san, bool is_ca,
                         const TestCert* issuer) {
  TestCert out;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509* issuer_cert = nullptr;
  EVP_PKEY* issuer_key = nullptr;
  if (issuer != nullptr) {
    BIO* cert_bio = BIO_new_mem_buf(issuer->cert_pem.data(),
                                    static_cast<int>(issuer->cert_pem.size()));
    BIO* key_bio = BIO_new_mem_buf(issuer->key_pem.data(),
                                   static_cast<int>(issuer->key_pem.size()));
    issuer_cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    issuer_key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(cert_bio);
    BIO_free(key_bio);
  }
  if (key != nullptr && cert != nullptr &&
      (issuer == nullptr ||
       (issuer_cert != nullptr && issuer_key != nullptr))) {
    X509_set_version(cert, 2);
    // A random serial: the certificates one issuer signs must differ.
    BIGNUM* serial = BN_new();
    if (serial != nullptr &&
        BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1) {
      BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert));
    }
    BN_free(serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1,
                               -1, 0);
    X509_set_issuer_name(cert, issuer_cert != nullptr
                                   ? X509_get_subject_name(issuer_cert)
                                   : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert != nullptr ? issuer_cert : cert, cert,
                   nullptr, nullptr, 0);
    const std::pair<int, const char*> extensions[] = {
        {NID_subject_alt_name, san},
        {NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE"}};
    for (const auto& [nid, value] : extensions) {
      if (*value == '\0') continue;
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      if (ext != nullptr) {
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
      }
    }
    if (X509_sign(cert, issuer_key != nullptr ? issuer_key : key,
                  EVP_sha256()) > 0) {
      BIO* cert_bio = BIO_new(BIO_s_mem());
      BIO* key_bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(cert_bio, cert);
      PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr,
                               nullptr);
      out.cert_pem = BioText(cert_bio);
      out.key_pem = BioText(key_bio);
      BIO_free(cert_bio);
      BIO_free(key_bio);
    }
  }
  X509_free(issuer_cert);
  EVP_PKEY_free(issuer_key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A certificate for localhost and 127.0.0.1 that is its own CA, so a
// client trusts it as the root.
inline TestCert MakeSelfSignedCert() {
  return MakeCert("localhost", "DNS:localhost,IP:127.0.0.1", true, nullptr);
}

// A client certificate named `cn`, signed by the CA `ca` (mutual TLS).
inline TestCert MakeClientCert(const TestCert& ca, const char* cn) {
  return MakeCert(cn, "", false, &ca);
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_SERVICE_TEST_CERTS_H_
