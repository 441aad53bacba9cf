// A byte relay between two connected sockets, off the JavaScript thread.
//
// The TCP gateway's fd hand-off leaves the hub out of the data path, but a client such as psql
// cannot receive a descriptor: some process must still copy bytes between the client's socket
// and the database's. Doing that in JavaScript costs a trip through the event loop per message
// (about a third of the direct rate with pgbench). Here each direction is one thread that
// blocks in read() and write()s what it got: a message crosses with two syscalls and a thread
// wake-up. Half-close is forwarded (EOF on one side shuts down writing on the other); an error
// in either direction shuts both sockets down so the other thread wakes and the relay ends.
// When both directions are done the relay closes both fds and reports the byte counts.
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <napi.h>

namespace {

constexpr size_t kRelayBuffer = 64 * 1024;

struct RelayState {
  int a;
  int b;
  std::atomic<int> running{2};
  std::atomic<long long> aToB{0};
  std::atomic<long long> bToA{0};
  std::atomic<int> error{0};
  Napi::ThreadSafeFunction done;
};

void SetBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

bool WriteAll(int fd, const char* data, ssize_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, static_cast<size_t>(length));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    length -= n;
  }
  return true;
}

void Finish(RelayState* state) {
  if (state->running.fetch_sub(1) != 1) return;
  if (state->error.load() != 0) {
    // A reset on one side becomes a reset on the other: close with a zero linger sends RST.
    struct linger reset = {1, 0};
    setsockopt(state->a, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    setsockopt(state->b, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  }
  close(state->a);
  close(state->b);
  state->done.BlockingCall(state, [](Napi::Env env, Napi::Function callback, RelayState* s) {
    callback.Call({Napi::Number::New(env, static_cast<double>(s->aToB.load())),
                   Napi::Number::New(env, static_cast<double>(s->bToA.load())),
                   Napi::Number::New(env, s->error.load())});
    s->done.Release();
    delete s;
  });
}

void Pump(RelayState* state, int from, int to, std::atomic<long long>* counter) {
  char* buffer = new char[kRelayBuffer];
  for (;;) {
    ssize_t n = read(from, buffer, kRelayBuffer);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      if (state->error.load() != 0) break;  // woken because the other direction failed
      shutdown(to, SHUT_WR);  // forward the half-close
      break;
    }
    if (n < 0 || !WriteAll(to, buffer, n)) {
      int expected = 0;
      state->error.compare_exchange_strong(expected, errno != 0 ? errno : EIO);
      // Wake the other direction without sending a FIN (the close will reset both sides).
      shutdown(state->a, SHUT_RD);
      shutdown(state->b, SHUT_RD);
      break;
    }
    counter->fetch_add(n);
  }
  delete[] buffer;
  Finish(state);
}

// relay(fdA, fdB, onDone(aToB, bToA, errno)): takes ownership of both fds.
Napi::Value Relay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "relay(fdA, fdB, onDone)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* state = new RelayState();
  state->a = info[0].As<Napi::Number>().Int32Value();
  state->b = info[1].As<Napi::Number>().Int32Value();
  state->done = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "beamhub-relay", 0, 1);
  SetBlocking(state->a);
  SetBlocking(state->b);
  std::thread(Pump, state, state->a, state->b, &state->aToB).detach();
  std::thread(Pump, state, state->b, state->a, &state->bToA).detach();
  return env.Undefined();
}

// shutdownSocket(fd): shuts both directions of a socket (a relay's threads wake and finish).
Napi::Value ShutdownSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "shutdownSocket(fd)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int result = shutdown(info[0].As<Napi::Number>().Int32Value(), SHUT_RDWR);
  return Napi::Number::New(env, result < 0 ? -errno : 0);
}

}  // namespace

void InitRelay(Napi::Env env, Napi::Object exports) {
  exports.Set("relay", Napi::Function::New<Relay>(env, "relay"));
  exports.Set("shutdownSocket", Napi::Function::New<ShutdownSocket>(env, "shutdownSocket"));
}
