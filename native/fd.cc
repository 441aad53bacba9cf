// beamhub fd passing addon: a Unix SOCK_STREAM socket owned entirely by this addon, so that
// ancillary data (SCM_RIGHTS) survives. libuv's own stream reads discard control messages, so
// the fd-carrying connection cannot be a net.Socket; instead a uv_poll_t tells us when the fd is
// readable/writable and we call recvmsg/sendmsg ourselves.
//
// Conventions (mirrored by fd/addon.ts):
// - synchronous functions return a non-negative result or a negative errno (no exceptions on the
//   hot path); JS maps errno numbers to names with errnoName().
// - asynchronous events go to JS callbacks given to the Channel constructor.
// - every fd this addon creates or receives is close-on-exec.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include <napi.h>

void InitRelay(Napi::Env env, Napi::Object exports);  // relay.cc: the native byte relay

namespace {

constexpr size_t kReadBufferSize = 256 * 1024;
constexpr int kMaxFdsPerMessage = 253;  // SCM_MAX_FD in Linux
constexpr int kMaxIov = 1024;           // IOV_MAX
constexpr int kReadsPerWakeup = 64;     // fairness: yield to the loop after this many reads
constexpr int kAcceptsPerWakeup = 64;

// One read buffer per thread (a worker thread has its own loop and addon instance).
thread_local std::unique_ptr<uint8_t[]> tl_read_buffer;

uint8_t* ReadBuffer() {
  if (!tl_read_buffer) tl_read_buffer.reset(new uint8_t[kReadBufferSize]);
  return tl_read_buffer.get();
}

[[maybe_unused]] int SetCloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return -errno;
  if (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return -errno;
  return 0;
}

int SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
  return 0;
}

// A new non-blocking, close-on-exec Unix stream socket, or -errno.
int NewUnixSocket() {
#ifdef SOCK_CLOEXEC
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  return fd < 0 ? -errno : fd;
#else
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  int r = SetCloexec(fd);
  if (r == 0) r = SetNonBlocking(fd);
  if (r < 0) close(fd);
  return r < 0 ? r : fd;
#endif
}

int FillAddress(const std::string& path, sockaddr_un* addr, socklen_t* len) {
  if (path.empty()) return -EINVAL;
  if (path.size() >= sizeof(addr->sun_path)) return -ENAMETOOLONG;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return 0;
}

void CloseAll(const int* fds, size_t count) {
  for (size_t i = 0; i < count; i++) close(fds[i]);
}

Napi::Number Int(Napi::Env env, double value) { return Napi::Number::New(env, value); }

// ---------------------------------------------------------------------------------------------
// Plain functions

// connect(path) -> fd | -errno. Unix stream connect never returns EINPROGRESS on Linux; a full
// backlog gives EAGAIN, which the caller retries.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un addr;
  socklen_t len;
  int r = FillAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len);
  if (r < 0) return Int(env, r);
  int fd = NewUnixSocket();
  if (fd < 0) return Int(env, fd);
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int e = errno;
    close(fd);
    return Int(env, -e);
  }
  return Int(env, fd);
}

// listen(path, backlog, mode) -> fd | -errno. The socket inode gets `mode` before bind (Linux
// creates the file from it, minus the umask), and the file gets exactly `mode` right after, so
// the file is never more permissive than asked for.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int backlog = info[1].As<Napi::Number>().Int32Value();
  mode_t mode = static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value() & 07777);
  sockaddr_un addr;
  socklen_t len;
  int r = FillAddress(path, &addr, &len);
  if (r < 0) return Int(env, r);
  int fd = NewUnixSocket();
  if (fd < 0) return Int(env, fd);
  (void)fchmod(fd, mode);  // best effort: not every system supports fchmod on sockets
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    int e = errno;
    close(fd);
    return Int(env, -e);
  }
  if (chmod(path.c_str(), mode) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    unlink(path.c_str());
    close(fd);
    return Int(env, -e);
  }
  return Int(env, fd);
}

// socketpair() -> [fd, fd] | -errno. Both ends are close-on-exec and blocking; whoever adopts an
// end (Channel, net.Socket) makes it non-blocking.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
#ifdef SOCK_CLOEXEC
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return Int(env, -errno);
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return Int(env, -errno);
  SetCloexec(sv[0]);
  SetCloexec(sv[1]);
#endif
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Int(env, sv[0]));
  pair.Set(1u, Int(env, sv[1]));
  return pair;
}

// dup(fd) -> new close-on-exec fd | -errno
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
  return Int(info.Env(), fd < 0 ? -errno : fd);
}

// close(fd) -> 0 | -errno. EINTR still means closed on Linux, so it is not retried.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int r = close(info[0].As<Napi::Number>().Int32Value());
  return Int(info.Env(), r < 0 && errno != EINTR ? -errno : 0);
}

// fdKind(fd) -> kind string | -errno
Napi::Value FdKind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct stat st;
  if (fstat(fd, &st) < 0) return Int(env, -errno);
  const char* kind = "unknown";
  if (S_ISREG(st.st_mode)) {
    kind = "file";
  } else if (S_ISDIR(st.st_mode)) {
    kind = "directory";
  } else if (S_ISFIFO(st.st_mode)) {
    kind = "pipe";
  } else if (S_ISCHR(st.st_mode)) {
    kind = "char";
  } else if (S_ISBLK(st.st_mode)) {
    kind = "block";
  } else if (S_ISSOCK(st.st_mode)) {
    int type = 0, listening = 0, domain = 0;
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return Int(env, -errno);
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) listening = 0;
#ifdef SO_DOMAIN
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return Int(env, -errno);
#else
    sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen) < 0) return Int(env, -errno);
    domain = ss.ss_family;
#endif
    if (domain == AF_INET || domain == AF_INET6) {
      if (type == SOCK_STREAM) kind = listening ? "tcp-listener" : "tcp";
      else if (type == SOCK_DGRAM) kind = "udp";
    } else if (domain == AF_UNIX) {
      if (type == SOCK_STREAM) kind = listening ? "unix-listener" : "unix";
      else if (type == SOCK_DGRAM) kind = "unix-dgram";
      else if (type == SOCK_SEQPACKET) kind = "unix-seqpacket";
    }
  }
  return Napi::String::New(env, kind);
}

// accessMode(fd) -> 0 (read only) | 1 (write only) | 2 (read/write) | -errno
Napi::Value AccessMode(const Napi::CallbackInfo& info) {
  int flags = fcntl(info[0].As<Napi::Number>().Int32Value(), F_GETFL);
  if (flags < 0) return Int(info.Env(), -errno);
  int mode = flags & O_ACCMODE;
  return Int(info.Env(), mode == O_RDONLY ? 0 : mode == O_WRONLY ? 1 : 2);
}

// peerCredentials(fd) -> {uid, gid, pid, groups} | -errno: who is on the other end of a
// connected Unix socket, as the kernel recorded it when the peer called connect() (or
// socketpair()): not something the peer says, so it cannot lie. pid is -1 where the system does
// not tell it (getpeereid); groups (the peer's supplementary group ids, SO_PEERGROUPS, Linux
// 4.13+) is null where unavailable, and then callers fall back to the group database.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  double uid, gid, pid = -1;
#if defined(SO_PEERCRED) && defined(__linux__)
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return Int(env, -errno);
  uid = cred.uid;
  gid = cred.gid;
  pid = cred.pid;
#else
  uid_t peer_uid;
  gid_t peer_gid;
  if (getpeereid(fd, &peer_uid, &peer_gid) < 0) return Int(env, -errno);
  uid = peer_uid;
  gid = peer_gid;
#endif
  Napi::Object result = Napi::Object::New(env);
  result.Set("uid", Int(env, uid));
  result.Set("gid", Int(env, gid));
  result.Set("pid", Int(env, pid));
  result.Set("groups", env.Null());
#ifdef SO_PEERGROUPS
  // The kernel says how much room it needs (ERANGE); a process has at most NGROUPS_MAX groups.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; attempt++) {
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
      size_t count = size / sizeof(gid_t);
      Napi::Array list = Napi::Array::New(env, count);
      for (size_t i = 0; i < count; i++) list.Set(static_cast<uint32_t>(i), Int(env, groups[i]));
      result.Set("groups", list);
      break;
    }
    if (errno != ERANGE) break;  // ENOPROTOOPT (older kernel): groups stay null
    groups.resize(size / sizeof(gid_t) + 1);
  }
#endif
  return result;
}

const char* ErrnoName(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* name = strerrorname_np(e);
  if (name != nullptr) return name;
#endif
  switch (e) {
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case ENOENT: return "ENOENT";
    case EADDRINUSE: return "EADDRINUSE";
    case EMFILE: return "EMFILE";
    case ENOTSOCK: return "ENOTSOCK";
    default: return nullptr;
  }
}

// errnoName(errno) -> "ECONNRESET" (or "E<number>" when unknown)
Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  int e = info[0].As<Napi::Number>().Int32Value();
  if (e < 0) e = -e;
  const char* name = ErrnoName(e);
  return Napi::String::New(info.Env(), name ? std::string(name) : "E" + std::to_string(e));
}

// strerror(errno) -> human readable text
Napi::Value StrerrorJs(const Napi::CallbackInfo& info) {
  int e = info[0].As<Napi::Number>().Int32Value();
  return Napi::String::New(info.Env(), strerror(e < 0 ? -e : e));
}

// ---------------------------------------------------------------------------------------------
// Channel: a connected socket (data + fds) or a listening socket (accepts), polled by libuv.
//
// new Channel(fd, listening, maxFdsPerRead, { onData, onEnd, onError, onWritable, onConnection })
// The Channel owns fd from construction until close(). While open it is kept alive by a strong
// reference (like any active libuv handle); close() releases it once libuv has let go.
class Channel : public Napi::ObjectWrap<Channel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Channel",
                       {
                           InstanceMethod<&Channel::Send>("send"),
                           InstanceMethod<&Channel::Shutdown>("shutdown"),
                           InstanceMethod<&Channel::CloseJs>("close"),
                           InstanceMethod<&Channel::SetReading>("setReading"),
                           InstanceMethod<&Channel::SetRef>("setRef"),
                           InstanceAccessor<&Channel::FdGetter>("fd"),
                       });
  }

  explicit Channel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Channel>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    listening_ = info[1].ToBoolean().Value();
    int max_fds = info[2].As<Napi::Number>().Int32Value();
    max_fds_ = max_fds < 1 ? 1 : max_fds > kMaxFdsPerMessage ? kMaxFdsPerMessage : max_fds;
    Napi::Object callbacks = info[3].As<Napi::Object>();
    const char* names[] = {"onData", "onEnd", "onError", "onWritable", "onConnection"};
    Napi::FunctionReference* refs[] = {&on_data_, &on_end_, &on_error_, &on_writable_, &on_connection_};
    for (int i = 0; i < 5; i++) {
      Napi::Value fn = callbacks.Get(names[i]);
      if (fn.IsFunction()) *refs[i] = Napi::Persistent(fn.As<Napi::Function>());
    }
    int r = SetNonBlocking(fd);
    uv_loop_t* loop = nullptr;
    if (r == 0 && napi_get_uv_event_loop(env, &loop) != napi_ok) r = -EINVAL;
    if (r == 0) r = uv_poll_init(loop, &poll_, fd);  // fails with EEXIST if fd is already polled
    if (r < 0) {
      // The caller keeps ownership of fd when construction fails.
      Napi::Error err = Napi::Error::New(env, std::string("cannot adopt fd: ") + strerror(-r));
      err.Set("errno", Int(env, -r));
      err.ThrowAsJavaScriptException();
      return;
    }
    fd_ = fd;
    poll_.data = this;
    context_.reset(new Napi::AsyncContext(env, "beamhub:FdSocket", info.This().As<Napi::Object>()));
    Ref();
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    hook_added_ = true;
    UpdatePoll();
  }

  ~Channel() override {
    if (hook_added_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  }

 private:
  // send(chunks: Buffer[], fds: number[] | null, closeFds: boolean) -> bytes sent | -errno.
  // The fds ride on the first byte. Only as many chunks as fit in one sendmsg (IOV_MAX) are
  // sent; a short count means "the rest later", and the channel then watches for writability
  // by itself and calls onWritable once. With closeFds, the fds are closed once the kernel has
  // taken them (the receiver now holds its own references).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0 || listening_) return Int(env, -EBADF);
    Napi::Array chunks = info[0].As<Napi::Array>();
    uint32_t count = chunks.Length();
    if (count > kMaxIov) count = kMaxIov;
    iovec iov[kMaxIov];
    size_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
      napi_value v = chunks.Get(i);
      napi_typedarray_type type;
      size_t length = 0;
      void* data = nullptr;
      if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
          type != napi_uint8_array) {
        return Int(env, -EINVAL);
      }
      iov[i].iov_base = data;
      iov[i].iov_len = length;
      total += length;
    }
    int fds[kMaxFdsPerMessage];
    uint32_t nfds = 0;
    if (info[1].IsArray()) {
      Napi::Array list = info[1].As<Napi::Array>();
      nfds = list.Length();
      if (nfds > kMaxFdsPerMessage) return Int(env, -EINVAL);
      for (uint32_t i = 0; i < nfds; i++) fds[i] = list.Get(i).As<Napi::Number>().Int32Value();
    }
    if (nfds > 0 && total == 0) return Int(env, -EINVAL);  // fds need at least one data byte
    if (total == 0) return Int(env, 0);
    bool close_fds = info[2].ToBoolean().Value();

    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
    msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    if (nfds > 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      memset(control, 0, msg.msg_controllen);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    int flags = MSG_DONTWAIT;
#ifdef MSG_NOSIGNAL
    flags |= MSG_NOSIGNAL;
#endif
    ssize_t n;
    do {
      n = sendmsg(fd_, &msg, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        WatchWritable();
        return Int(env, -EAGAIN);
      }
      return Int(env, -e);
    }
    // n > 0: the kernel has queued the first byte, and the fds with it.
    if (close_fds) CloseAll(fds, nfds);
    if (static_cast<size_t>(n) < total) WatchWritable();
    return Int(env, static_cast<double>(n));
  }

  // shutdown() -> 0 | -errno: half-close (no more writes; reads continue).
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    if (fd_ < 0) return Int(info.Env(), -EBADF);
    return Int(info.Env(), shutdown(fd_, SHUT_WR) < 0 ? -errno : 0);
  }

  Napi::Value CloseJs(const Napi::CallbackInfo& info) {
    Close();
    return info.Env().Undefined();
  }

  Napi::Value SetReading(const Napi::CallbackInfo& info) {
    reading_ = info[0].ToBoolean().Value();
    if (fd_ >= 0 && !eof_) UpdatePoll();
    return info.Env().Undefined();
  }

  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      if (info[0].ToBoolean().Value()) uv_ref(reinterpret_cast<uv_handle_t*>(&poll_));
      else uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));
    }
    return info.Env().Undefined();
  }

  Napi::Value FdGetter(const Napi::CallbackInfo& info) { return Int(info.Env(), fd_); }

  void WatchWritable() {
    if (!want_write_) {
      want_write_ = true;
      UpdatePoll();
    }
  }

  void UpdatePoll() {
    if (fd_ < 0) return;
    int events = 0;
    if (reading_ && !eof_) events |= UV_READABLE;
    if (want_write_) events |= UV_WRITABLE;
    if (events == 0) {
      uv_poll_stop(&poll_);
    } else {
      int r = uv_poll_start(&poll_, events, OnPoll);
      if (r < 0) EmitError(-r, "uv_poll_start");
    }
  }

  void Close() {
    if (fd_ < 0) return;
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
    close(fd_);
    fd_ = -1;
    if (hook_added_) {
      napi_remove_env_cleanup_hook(env_, CleanupHook, this);
      hook_added_ = false;
    }
  }

  static void CleanupHook(void* arg) {
    Channel* self = static_cast<Channel*>(arg);
    self->hook_added_ = false;
    self->tearing_down_ = true;
    self->Close();
  }

  static void OnClosed(uv_handle_t* handle) {
    Channel* self = static_cast<Channel*>(handle->data);
    if (self->tearing_down_) return;  // the environment is going away; leave JS alone
    self->context_.reset();
    for (Napi::FunctionReference* ref : {&self->on_data_, &self->on_end_, &self->on_error_,
                                         &self->on_writable_, &self->on_connection_}) {
      ref->Reset();
    }
    self->Unref();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Channel* self = static_cast<Channel*>(handle->data);
    Napi::HandleScope scope(self->env_);
    if (status < 0) {
      // libuv reports POLLERR as a bare error status and stops the handle. Reading surfaces the
      // real error (after any data still queued); if there is nothing to read, report it.
      bool wanted_write = self->want_write_;
      self->want_write_ = false;
      if (self->listening_) {
        self->Accept();
      } else {
        self->Read();
        // Also when the read side just saw EOF: writes were waiting for room that will never
        // come (the peer is gone), and nobody would retry them.
        if (self->fd_ >= 0 && (!self->eof_ || wanted_write)) {
          int err = 0;
          socklen_t len = sizeof(err);
          getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
          self->EmitError(err != 0 ? err : (wanted_write ? EPIPE : -status), "poll");
        }
      }
      return;
    }
    if (events & UV_READABLE) {
      if (self->listening_) self->Accept();
      else self->Read();
    }
    if (self->fd_ >= 0 && (events & UV_WRITABLE) && self->want_write_) {
      self->want_write_ = false;
      self->UpdatePoll();
      self->Call(self->on_writable_, 0, nullptr);
    }
  }

  void Read() {
    uint8_t* buffer = ReadBuffer();
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
    int received[kMaxFdsPerMessage];
    for (int round = 0; round < kReadsPerWakeup && fd_ >= 0 && reading_ && !eof_; round++) {
      iovec iov = {buffer, kReadBufferSize};
      msghdr msg;
      memset(&msg, 0, sizeof(msg));
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds_);
      int flags = MSG_DONTWAIT;
#ifdef MSG_CMSG_CLOEXEC
      flags |= MSG_CMSG_CLOEXEC;
#endif
      ssize_t n = recvmsg(fd_, &msg, flags);
      if (n < 0) {
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        EmitError(e, "recvmsg");
        return;
      }
      size_t nfds = 0;
      bool foreign = false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
          size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (size_t i = 0; i < count && nfds < kMaxFdsPerMessage; i++) {
            memcpy(&received[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          }
        } else {
          foreign = true;  // e.g. credentials: never asked for, so never expected
        }
      }
#ifndef MSG_CMSG_CLOEXEC
      for (size_t i = 0; i < nfds; i++) SetCloexec(received[i]);
#endif
      if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
        // Some fds were dropped by the kernel (no room in our control buffer, or the fd limit was
        // hit while installing them): the stream's fd accounting is now broken for good.
        CloseAll(received, nfds);
        const char* what = (msg.msg_flags & MSG_CTRUNC) ? "MSG_CTRUNC" : "MSG_TRUNC";
        EmitError(0, "recvmsg", what);
        return;
      }
      if (foreign) {
        CloseAll(received, nfds);
        EmitError(0, "recvmsg", "unexpected control message");
        return;
      }
      if (n == 0 && nfds == 0) {
        eof_ = true;
        UpdatePoll();
        Call(on_end_, 0, nullptr);
        return;
      }
      Napi::HandleScope scope(env_);
      napi_value args[2];
      args[0] = Napi::Buffer<uint8_t>::Copy(env_, buffer, static_cast<size_t>(n));
      if (nfds > 0) {
        Napi::Array list = Napi::Array::New(env_, nfds);
        for (size_t i = 0; i < nfds; i++) list.Set(static_cast<uint32_t>(i), Int(env_, received[i]));
        args[1] = list;
      } else {
        args[1] = env_.Null();
      }
      Call(on_data_, 2, args);
    }
  }

  void Accept() {
    for (int round = 0; round < kAcceptsPerWakeup && fd_ >= 0 && reading_; round++) {
#ifdef SOCK_CLOEXEC
      int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
      int fd = accept(fd_, nullptr, nullptr);
      if (fd >= 0) SetCloexec(fd);
#endif
      if (fd < 0) {
        int e = errno;
        if (e == EINTR || e == ECONNABORTED) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        EmitError(e, "accept");
        return;
      }
      Napi::HandleScope scope(env_);
      napi_value arg = Int(env_, fd);
      Call(on_connection_, 1, &arg);
    }
  }

  // onError(code, message, syscall): code is an errno name, or EFD_CTRUNC for lost fds.
  void EmitError(int e, const char* syscall, const char* detail = nullptr) {
    Napi::HandleScope scope(env_);
    std::string code, message;
    if (detail != nullptr) {
      code = "EFD_CTRUNC";
      message = std::string(syscall) + ": " + detail + " (file descriptors were lost)";
    } else {
      const char* name = ErrnoName(e);
      code = name ? name : "E" + std::to_string(e);
      message = std::string(syscall) + " failed: " + code + " (" + strerror(e) + ")";
    }
    napi_value args[3] = {Napi::String::New(env_, code), Napi::String::New(env_, message),
                          Napi::String::New(env_, syscall)};
    Call(on_error_, 3, args);
  }

  void Call(Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
    if (fn.IsEmpty() || !context_) return;
    napi_value result;
    napi_status status = napi_make_callback(env_, *context_, Value(), fn.Value(), argc, argv, &result);
    if (status == napi_pending_exception) {
      // A throwing JS callback: report it as an uncaught exception, as libuv callbacks do.
      napi_value exception;
      napi_get_and_clear_last_exception(env_, &exception);
      napi_fatal_exception(env_, exception);
    }
  }

  Napi::Env env_;
  uv_poll_t poll_;
  int fd_ = -1;
  int max_fds_ = kMaxFdsPerMessage;
  bool listening_ = false;
  bool reading_ = true;
  bool want_write_ = false;
  bool eof_ = false;
  bool hook_added_ = false;
  bool tearing_down_ = false;
  std::unique_ptr<Napi::AsyncContext> context_;
  Napi::FunctionReference on_data_, on_end_, on_error_, on_writable_, on_connection_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ::InitRelay(env, exports);
  exports.Set("Channel", Channel::Define(env));
  exports.Set("connect", Napi::Function::New<Connect>(env, "connect"));
  exports.Set("listen", Napi::Function::New<Listen>(env, "listen"));
  exports.Set("socketpair", Napi::Function::New<SocketPair>(env, "socketpair"));
  exports.Set("dup", Napi::Function::New<Dup>(env, "dup"));
  exports.Set("close", Napi::Function::New<Close>(env, "close"));
  exports.Set("fdKind", Napi::Function::New<FdKind>(env, "fdKind"));
  exports.Set("accessMode", Napi::Function::New<AccessMode>(env, "accessMode"));
  exports.Set("peerCredentials", Napi::Function::New<PeerCredentials>(env, "peerCredentials"));
  exports.Set("errnoName", Napi::Function::New<ErrnoNameJs>(env, "errnoName"));
  exports.Set("strerror", Napi::Function::New<StrerrorJs>(env, "strerror"));
  exports.Set("maxFdsPerMessage", Napi::Number::New(env, kMaxFdsPerMessage));
  exports.Set("maxIov", Napi::Number::New(env, kMaxIov));
  return exports;
}

}  // namespace

NODE_API_MODULE(beamhub_fd, Init)
