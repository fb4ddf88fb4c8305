// Listening sockets that one process holds alone. cpp-httplib sets
// SO_REUSEPORT by default, so a second broker (or node) on the same port
// starts too and the kernel splits the connections between them; these
// options keep SO_REUSEADDR only (a restart may bind at once after the last
// one stopped), and a second listener fails with "address in use".
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace lantoa::internal {

inline void exclusive_listen_socket(int sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// Why a bind just failed, for the message (reads errno).
inline std::string bind_failure_reason() {
  return errno == EADDRINUSE ? "the address is in use (is another one running there?)" : std::strerror(errno);
}

}  // namespace lantoa::internal
