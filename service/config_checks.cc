#include "service/config_checks.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "mapping/event_types.h"

namespace conversions::service::config_internal {

bool AllOf(std::string_view s, bool (*pred)(char)) {
  return std::all_of(s.begin(), s.end(), pred);
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = absl::StrCat("\"", absl::CEscape(Av(s.substr(0, kMax))));
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string FormatDuration(Ms d) {
  struct Unit {
    std::int64_t ms;
    const char* name;
  };
  constexpr Unit kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  for (const Unit& unit : kUnits) {
    if (ms % unit.ms == 0) return absl::StrCat(ms / unit.ms, unit.name);
  }
  return absl::StrCat(ms, "ms");
}

bool IsDestinationName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && AllOf(s, [](char c) {
    return IsLowerOrDigit(c) || c == '_' || c == '-';
  });
}

bool IsIntegrationSource(std::string_view s) {
  return s.size() <= 64 && (s.empty() || IsAlnum(s.front())) &&
         AllOf(s, [](char c) {
           return IsAlnum(c) || c == '.' || c == '_' || c == '-';
         });
}

bool IsEnvName(std::string_view s) {
  return !s.empty() && s.size() <= 256 && !IsDigit(s.front()) &&
         AllOf(s, [](char c) { return IsAlnum(c) || c == '_'; });
}

namespace {
bool LooksLikeEnvName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && !IsDigit(s.front()) &&
         AllOf(s, [](char c) {
           return (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_';
         });
}
}  // namespace

std::string EnvVarInMessage(std::string_view name) {
  if (LooksLikeEnvName(name))
    return absl::StrCat("environment variable ", Av(name));
  return "the environment variable named here (its name is not shown: it is "
         "not in upper case, and may be a secret pasted by mistake)";
}

std::string ShownEnvName(std::string_view name) {
  return LooksLikeEnvName(name) ? std::string(name) : "<redacted>";
}

bool IsPixelId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxPixelIdBytes && AllOf(s, IsVisible) &&
         s.substr(0, 3) != "sk-";
}

bool IsApiKey(std::string_view s) {
  return !s.empty() && s.size() <= kMaxApiKeyBytes && AllOf(s, IsVisible);
}

std::string TlsPairProblem(const std::string& cert_pem,
                           const std::string& key_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
      &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())),
      &BIO_free);
  if (!cert_bio || !key_bio) return "cannot read the certificate and key";
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return "cert_file does not hold a valid PEM certificate";
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr),
      &EVP_PKEY_free);
  if (!key) {
    return "does not hold a valid, unencrypted PEM private key";
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return "is not the private key of the certificate in cert_file";
  }
  return "";
}

std::string SecretFileReadProblem(const std::string& path,
                                  const absl::Status& error) {
  if (path.find('/') == std::string::npos) {
    return "cannot read the file named here (its name, which has no '/', is "
           "not shown: it may be a secret pasted by mistake)";
  }
  return absl::StrCat("cannot read file ", path, ": ", error.message());
}

std::string CaBundleProblem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return "cannot read the CA certificates";
  int count = 0;
  while (true) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (!cert) break;
    ++count;
    if (X509_check_ca(cert.get()) == 0) {
      return absl::StrCat("certificate ", count,
                          " is not a CA certificate (basicConstraints CA "
                          "is not set)");
    }
  }
  ERR_clear_error();  // the read past the last certificate
  if (count == 0) return "holds no valid PEM certificate";
  return "";
}

std::string SourcePathProblem(std::string_view path, bool allow_item_index) {
  if (path.empty()) return "must not be empty";
  if (path.size() > kMaxSourcePathBytes) {
    return absl::StrCat("longer than ", kMaxSourcePathBytes, " bytes");
  }
  int indexes = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('.', start), path.size());
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || !AllOf(segment, [](char c) {
          return IsAlnum(c) || c == '_' || c == '-';
        })) {
      return "must be dot-separated segments of [A-Za-z0-9_-]";
    }
    if (segment == "X") ++indexes;
    start = end + 1;
  }
  if (indexes > 0 && !allow_item_index) {
    return "the item index X is allowed only for items.X.* slots";
  }
  if (indexes > 1) return "may use the item index X only once";
  return "";
}

std::string EventTypeNames() {
  std::vector<std::string> names;
  for (int i = v1::EventType_MIN; i <= v1::EventType_MAX; ++i) {
    std::string_view name =
        mapping::EventTypeName(static_cast<v1::EventType>(i));
    if (!name.empty()) names.emplace_back(name);
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace conversions::service::config_internal
