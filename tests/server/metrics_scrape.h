// Reads /metrics from a metrics port on loopback over plain HTTP/1.0 and
// parses the Prometheus text format, for tests of what a scrape shows.
#ifndef STREAMFIT_TESTS_SERVER_METRICS_SCRAPE_H_
#define STREAMFIT_TESTS_SERVER_METRICS_SCRAPE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace streamfit::testing {

struct Scrape {
  // By series as exposed: `name{label="value",...}` (or just `name`).
  std::map<std::string, double> values;
  std::map<std::string, std::string> types;  // by family name
  // The series' value, or 0 if the scrape does not show it.
  double operator[](const std::string& series) const {
    auto it = values.find(series);
    return it == values.end() ? 0 : it->second;
  }
  bool Has(const std::string& series) const { return values.count(series); }
};

inline absl::StatusOr<Scrape> ScrapeMetrics(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
        response.append(buffer, n);
      }
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos ||
      response.find(" 200 ") > response.find("\r\n")) {
    return absl::UnavailableError(
        absl::StrCat("no /metrics on port ", port, ": ", response));
  }
  Scrape scrape;
  std::istringstream lines(response.substr(body + 4));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      scrape.types[name] = type;
    } else if (!line.empty() && line[0] != '#') {
      const size_t space = line.rfind(' ');
      double value = 0;
      if (space != std::string::npos &&
          absl::SimpleAtod(line.substr(space + 1), &value)) {
        scrape.values[line.substr(0, space)] = value;
      }
    }
  }
  return scrape;
}

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_SERVER_METRICS_SCRAPE_H_
