// A self-signed certificate for 127.0.0.1 and localhost, made with
// OpenSSL at test time, so that TLS tests need no files checked in and no
// `openssl` command.
#ifndef CONVERSIONS_TESTS_SERVICE_TEST_CERTS_H_
#define CONVERSIONS_TESTS_SERVICE_TEST_CERTS_H_

#include <openssl/bio.h>
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

// A P-256 key and a certificate valid from an hour ago for a day, for
// localhost and 127.0.0.1; it is its own CA, so a client trusts it as the
// root. Empty strings when OpenSSL fails.
inline TestCert MakeSelfSignedCert() {
  TestCert out;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) return out;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
      {NID_basic_constraints, "critical,CA:TRUE"}};
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext != nullptr) {
      X509_add_ext(cert, ext, -1);
      X509_EXTENSION_free(ext);
    }
  }
  if (X509_sign(cert, key, EVP_sha256()) > 0) {
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
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_SERVICE_TEST_CERTS_H_
