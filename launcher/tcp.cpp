#include "launcher/tcp.h"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"

namespace spmd::launcher {

std::string host_name() {
  char name[64] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::vector<uint32_t> local_ipv4() {
  std::vector<uint32_t> outside, loopback;
  ifaddrs* all = nullptr;
  if (getifaddrs(&all) == 0) {
    for (const ifaddrs* i = all; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) continue;
      const uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
      ((i->ifa_flags & IFF_LOOPBACK) ? loopback : outside).push_back(ip);
    }
    freeifaddrs(all);
  }
  if (loopback.empty()) loopback.push_back(INADDR_LOOPBACK);
  outside.insert(outside.end(), loopback.begin(), loopback.end());
  return outside;
}

int listen_anywhere(uint16_t& port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(std::string("socket(): ") + std::strerror(errno));
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t size = sizeof at;
  if (bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || listen(fd, SOMAXCONN) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&at), &size) != 0) {
    const int error = errno;
    close(fd);
    throw Error(std::string("a listening socket: ") + std::strerror(error));
  }
  port = ntohs(at.sin_port);
  return fd;
}

int connect_within(uint32_t ipv4, uint16_t port, double seconds, std::string& why) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    why = std::string("socket(): ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(ipv4);
  at.sin_port = htons(port);
  int error = connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0 ? 0 : errno;
  if (error == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    const int ready = poll(&p, 1, static_cast<int>(seconds * 1000));
    socklen_t size = sizeof error;
    if (ready <= 0) error = ready == 0 ? ETIMEDOUT : errno;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  }
  if (error != 0) {
    why = std::strerror(error);
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string dotted(uint32_t ipv4) {
  return std::to_string(ipv4 >> 24) + "." + std::to_string((ipv4 >> 16) & 255) + "." + std::to_string((ipv4 >> 8) & 255) +
         "." + std::to_string(ipv4 & 255);
}

}  // namespace spmd::launcher
