// libbeamhub_handoff.so: the TCP gateway's fd hand-off for programs that cannot take an fd.
//
// A client such as psql or pgbench only knows how to connect() to host:port. Loaded with
// LD_PRELOAD (`beamhub run` does it), this library catches connect() calls to the addresses of a
// beamhub gateway (`connectTcp` / `beamhub connect` with a hand-off socket) and, instead of
// connecting over TCP, asks the gateway for the database's connected socket over a Unix socket
// and puts that socket in place of the program's own (dup3 onto the same fd number). From then
// on the program talks to the database itself: no process of ours is left in the data path.
//
// BEAMHUB_HANDOFF lists the addresses served: `host:port=/path/to/handoff.sock`, entries
// separated by `;`, IPv6 hosts in brackets (`[::1]:6432=...`). The exchange on the Unix socket
// is specified in PROTOCOL.md ("The hand-off socket"): we send 0x01; the gateway answers 0x00
// with the fd attached, 0x01 + a message (the connection failed: connect() fails with
// ECONNREFUSED and the message goes to stderr), or 0x02 (no descriptor can come: connect over TCP
// as usual). A gateway that is not there also means "connect over TCP as usual".
//
// Every other connect() goes straight to libc's. A handed-over connect() blocks for the exchange
// (one hub call, about a millisecond here) even on a non-blocking socket, and then returns 0.
// Limits: only dynamically linked programs that call connect() through libc; a socket
// registered with epoll before connect() keeps watching the socket that was replaced.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ROUTES 32
#define REPLY_LIMIT 1024
// A hand-off is one hub call; the gateway bounds it (15 s by default). This bounds the wait for
// a gateway that stopped answering.
#define REPLY_TIMEOUT_SECONDS 30

enum { REQUEST_CONNECTION = 0x01 };
enum { REPLY_DESCRIPTOR = 0x00, REPLY_FAILED = 0x01, REPLY_USE_TCP = 0x02 };

struct route {
  int family;
  struct in_addr ipv4;
  struct in6_addr ipv6;
  in_port_t port;  // network byte order
  char path[sizeof(((struct sockaddr_un*)0)->sun_path)];
};

typedef int (*connect_fn)(int, const struct sockaddr*, socklen_t);

static struct route routes[MAX_ROUTES];
static int route_count;
static connect_fn libc_connect;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

// One `host:port=path` entry; malformed entries are skipped (the program still runs, over TCP).
static void parse_route(char* entry) {
  char* equals = strchr(entry, '=');
  if (equals == NULL || route_count == MAX_ROUTES) return;
  *equals = '\0';
  const char* path = equals + 1;
  char* host = entry;
  char* port_text;
  if (host[0] == '[') {
    char* close = strchr(host, ']');
    if (close == NULL || close[1] != ':') return;
    *close = '\0';
    host += 1;
    port_text = close + 2;
  } else {
    port_text = strrchr(host, ':');
    if (port_text == NULL) return;
    *port_text++ = '\0';
  }
  char* end;
  long port = strtol(port_text, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535 || strlen(path) >= sizeof(routes[0].path)) return;
  struct route* route = &routes[route_count];
  memset(route, 0, sizeof(*route));
  if (inet_pton(AF_INET, host, &route->ipv4) == 1) {
    route->family = AF_INET;
  } else if (inet_pton(AF_INET6, host, &route->ipv6) == 1) {
    route->family = AF_INET6;
  } else {
    return;
  }
  route->port = htons((uint16_t)port);
  strcpy(route->path, path);
  route_count++;
}

static void setup(void) {
  libc_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
  const char* spec = getenv("BEAMHUB_HANDOFF");
  if (spec == NULL) return;
  char* copy = strdup(spec);
  if (copy == NULL) return;
  char* saved;
  for (char* entry = strtok_r(copy, ";", &saved); entry != NULL;
       entry = strtok_r(NULL, ";", &saved)) {
    parse_route(entry);
  }
  free(copy);
}

// Read the routes as the library loads: a program may clear its environment before it connects.
__attribute__((constructor)) static void load_routes(void) { pthread_once(&setup_once, setup); }

static const struct route* find_route(const struct sockaddr* address, socklen_t length) {
  if (address == NULL) return NULL;
  struct in_addr mapped;
  int family = address->sa_family;
  const void* host = NULL;
  in_port_t port = 0;
  if (family == AF_INET && length >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)address;
    host = &in->sin_addr;
    port = in->sin_port;
  } else if (family == AF_INET6 && length >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)address;
    port = in6->sin6_port;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      memcpy(&mapped, &in6->sin6_addr.s6_addr[12], sizeof(mapped));
      family = AF_INET;
      host = &mapped;
    } else {
      host = &in6->sin6_addr;
    }
  } else {
    return NULL;
  }
  for (int i = 0; i < route_count; i++) {
    const struct route* route = &routes[i];
    if (route->family != family || route->port != port) continue;
    if (family == AF_INET ? memcmp(host, &route->ipv4, sizeof(struct in_addr)) == 0
                          : memcmp(host, &route->ipv6, sizeof(struct in6_addr)) == 0) {
      return route;
    }
  }
  return NULL;
}

static void close_all(const int* fds, int count) {
  for (int i = 0; i < count; i++) close(fds[i]);
}

// Copies the socket options a client may have set before connect() onto the socket that takes
// its place (libpq sets TCP_NODELAY and, when asked, keepalives before connecting).
static void copy_socket_options(int from, int to) {
  static const int options[][2] = {
      {IPPROTO_TCP, TCP_NODELAY},   {SOL_SOCKET, SO_KEEPALIVE},   {IPPROTO_TCP, TCP_KEEPIDLE},
      {IPPROTO_TCP, TCP_KEEPINTVL}, {IPPROTO_TCP, TCP_KEEPCNT},   {IPPROTO_TCP, TCP_USER_TIMEOUT},
  };
  for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
    int value;
    socklen_t size = sizeof(value);
    if (getsockopt(from, options[i][0], options[i][1], &value, &size) == 0) {
      setsockopt(to, options[i][0], options[i][1], &value, sizeof(value));
    }
  }
}

// Puts `received` in the place of `fd`, keeping the flags the program chose for `fd`.
static int install(int fd, int received) {
  int status_flags = fcntl(fd, F_GETFL);
  int fd_flags = fcntl(fd, F_GETFD);
  if (status_flags < 0 || fd_flags < 0) return -1;
  copy_socket_options(fd, received);
  int received_flags = fcntl(received, F_GETFL);
  if (received_flags < 0) return -1;
  fcntl(received, F_SETFL, (received_flags & ~O_NONBLOCK) | (status_flags & O_NONBLOCK));
  if (dup3(received, fd, (fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) return -1;
  return 0;
}

// Writes the gateway's failure message to stderr, the one place a wrapped program's user looks.
static void report(int unix_fd, const char* first, size_t first_length) {
  char message[REPLY_LIMIT];
  size_t length = first_length < sizeof(message) ? first_length : sizeof(message);
  memcpy(message, first, length);
  while (length < sizeof(message)) {
    ssize_t n = recv(unix_fd, message + length, sizeof(message) - length, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    length += (size_t)n;
  }
  while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\0')) length--;
  if (length > 0) dprintf(STDERR_FILENO, "beamhub hand-off: %.*s\n", (int)length, message);
}

// 1: connected (fd replaced); 0: connect over TCP as usual; -1: failed with errno set.
static int hand_off(int fd, const struct route* route) {
  int unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (unix_fd < 0) return 0;
  struct timeval timeout = {REPLY_TIMEOUT_SECONDS, 0};
  setsockopt(unix_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(unix_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  struct sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  strcpy(address.sun_path, route->path);
  int result;
  do {
    result = libc_connect(unix_fd, (const struct sockaddr*)&address, sizeof(address));
  } while (result < 0 && errno == EINTR);
  if (result < 0) {  // no gateway there (any more): the TCP port decides
    close(unix_fd);
    return 0;
  }
  const unsigned char request = REQUEST_CONNECTION;
  ssize_t sent;
  do {
    sent = send(unix_fd, &request, 1, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);

  char reply[64];
  union {
    struct cmsghdr header;
    char space[CMSG_SPACE(sizeof(int) * 8)];
  } control;
  struct iovec vector = {reply, sizeof(reply)};
  struct msghdr message;
  memset(&message, 0, sizeof(message));
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control.space;
  message.msg_controllen = sizeof(control.space);
  ssize_t n;
  do {
    n = recvmsg(unix_fd, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int saved_errno = errno;

  int fds[8];
  int fd_count = 0;
  if (n >= 0) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < count && fd_count < 8; i++) {
        memcpy(&fds[fd_count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      }
    }
  }

  int outcome;
  if (n < 0) {
    errno = (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) ? ETIMEDOUT : saved_errno;
    outcome = -1;
  } else if (n == 0) {  // the gateway closed without an answer (it is stopping)
    errno = ECONNREFUSED;
    outcome = -1;
  } else if (reply[0] == REPLY_DESCRIPTOR && fd_count == 1 && !(message.msg_flags & MSG_CTRUNC)) {
    outcome = install(fd, fds[0]) == 0 ? 1 : -1;
  } else if (reply[0] == REPLY_USE_TCP) {
    outcome = 0;
  } else if (reply[0] == REPLY_FAILED) {
    report(unix_fd, reply + 1, (size_t)n - 1);
    errno = ECONNREFUSED;
    outcome = -1;
  } else {  // a reply this library does not understand
    errno = EPROTO;
    outcome = -1;
  }
  saved_errno = errno;
  close_all(fds, fd_count);
  close(unix_fd);
  errno = saved_errno;
  return outcome;
}

__attribute__((visibility("default"))) int connect(int fd, const struct sockaddr* address,
                                                  socklen_t length) {
  pthread_once(&setup_once, setup);
  if (libc_connect == NULL) {
    errno = ENOSYS;
    return -1;
  }
  const struct route* route = route_count > 0 ? find_route(address, length) : NULL;
  if (route != NULL) {
    // Only TCP sockets: an SCTP or MPTCP stream socket to the same address is left alone.
    int type, protocol;
    socklen_t size = sizeof(type);
    socklen_t protocol_size = sizeof(protocol);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_STREAM &&
        getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &protocol_size) == 0 &&
        protocol == IPPROTO_TCP) {
      int outcome = hand_off(fd, route);
      if (outcome != 0) return outcome > 0 ? 0 : -1;
    }
  }
  return libc_connect(fd, address, length);
}
