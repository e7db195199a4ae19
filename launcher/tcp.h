// The few TCP calls the peer watch needs, over the POSIX sockets API: this host's name and
// IPv4 addresses, a listening socket, and a connect with a deadline. Sockets are made
// close-on-exec, so a command the job starts does not hold them open.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spmd::launcher {

// This host's name as gethostname() gives it (at most 63 characters).
std::string host_name();
// This host's IPv4 addresses (host byte order) of interfaces that are up: the others
// first, loopback last. Cost: one getifaddrs().
std::vector<uint32_t> local_ipv4();
// A socket listening on every interface at a port the kernel picks; `port` gets it.
// Throws spmd::Error saying which call failed.
int listen_anywhere(uint16_t& port);
// A connected, blocking socket to `ipv4`:`port`, or -1 when it does not connect within
// `seconds` (`why` gets the reason).
int connect_within(uint32_t ipv4, uint16_t port, double seconds, std::string& why);
// "a.b.c.d" for an address in host byte order.
std::string dotted(uint32_t ipv4);

}  // namespace spmd::launcher
