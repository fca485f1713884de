/*
 * rawio: direct, synchronous block I/O for the quorum partitions.
 *
 * Why an addon: Node's fs module cannot allocate aligned memory, and O_DIRECT
 * needs aligned buffers, offsets and lengths. The kernel does not reliably
 * refuse misaligned buffers (a sub-page misalignment is often accepted), so
 * this file owns every buffer that reaches pread/pwrite (posix_memalign'd
 * bounce buffers) and checks offset and length alignment itself before any
 * system call is made.
 *
 * Every transfer runs on the libuv thread pool and settles a promise, so a
 * slow or hung device never blocks the event loop. A handle that is closed
 * while transfers are in flight closes its descriptor when the last one ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <linux/watchdog.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <uv.h>

/* One transfer may not exceed this: bounds the memory a caller can pin. */
#define RAWIO_MAX_TRANSFER (64u * 1024u * 1024u)
/* Bounce buffers are at least page aligned, whatever the device asks for. */
#define RAWIO_MIN_MEM_ALIGN 4096u
/* Used when a regular file cannot tell us its direct-I/O alignment. */
#define RAWIO_DEFAULT_ALIGN 512u
#define RAWIO_MAX_PATH 4096u

typedef struct {
  int fd;
  int writable;
  int closed;          /* close() was called from JavaScript */
  uint32_t inflight;   /* requests (opens and transfers) queued or running */
  uint32_t align;      /* offset and length alignment in bytes */
  uint32_t mem_align;  /* buffer alignment in bytes */
  char path[RAWIO_MAX_PATH];
} rawio_handle;

typedef enum { OP_OPEN, OP_READ, OP_WRITE } rawio_op;

typedef struct {
  rawio_op op;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle_ref;  /* keeps the handle alive while the work runs */
  rawio_handle *handle;
  /* open */
  int open_write;
  /* transfer */
  uint64_t offset;
  size_t length;
  void *buffer;
  /* result */
  int err;              /* errno of the failed call, 0 on success */
  const char *syscall;
  int short_transfer;   /* the device ended before length bytes */
} rawio_request;

#define NAPI_CALL(env, call)                                      \
  do {                                                            \
    if ((call) != napi_ok) {                                      \
      const napi_extended_error_info *info_ = NULL;               \
      napi_get_last_error_info((env), &info_);                    \
      napi_throw_error((env), "ERR_RAWIO_NAPI",                   \
                       info_ && info_->error_message              \
                           ? info_->error_message                 \
                           : "rawio: Node-API call failed");      \
      return NULL;                                                \
    }                                                             \
  } while (0)

/* ---------- errors ---------- */

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value msg, err, code_value;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, msg, &err) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok) return NULL;
  napi_set_named_property(env, err, "code", code_value);
  return err;
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

static void set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

static void set_bool(napi_env env, napi_value obj, const char *key, int value) {
  napi_value v;
  if (napi_get_boolean(env, value != 0, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

/* An error for a failed system call: code is the errno name, path is the device. */
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path,
                              const char *what, const char *reason) {
  char message[RAWIO_MAX_PATH + 256];
  const char *name = uv_err_name(-err);
  snprintf(message, sizeof message, "%s on %s failed: %s (%s)", what, path, reason ? reason : strerror(err), name);
  napi_value e = make_error(env, name, message);
  if (e == NULL) return NULL;
  set_number(env, e, "errno", (double)err);
  set_string(env, e, "syscall", syscall);
  set_string(env, e, "path", path);
  return e;
}

static napi_value throw_usage(napi_env env, const char *code, const char *message) {
  napi_value e = make_error(env, code, message);
  if (e != NULL) napi_throw(env, e);
  return NULL;
}

/* ---------- handle ---------- */

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  rawio_handle *h = data;
  /* Normally this runs only when no request holds a reference. But when an
   * environment is torn down (a worker thread ends) finalizers run even
   * while requests are still on the thread pool; those may still use the
   * descriptor and the handle, so both are left alone (leaked) rather than
   * freed under a running system call. */
  if (h->inflight > 0) return;
  if (h->fd >= 0) close(h->fd);
  free(h);
}

static rawio_handle *get_handle(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) {
    throw_usage(env, "ERR_RAWIO_HANDLE", "rawio: expected a handle returned by open()");
    return NULL;
  }
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throw_usage(env, "ERR_RAWIO_HANDLE", "rawio: expected a handle returned by open()");
    return NULL;
  }
  return data;
}

static void release_request(napi_env env, rawio_request *req) {
  if (req->handle_ref != NULL) napi_delete_reference(env, req->handle_ref);
  if (req->work != NULL) napi_delete_async_work(env, req->work);
  free(req->buffer);
  free(req);
}

/* Called when a request ends: closes the descriptor if close() came meanwhile. */
static void transfer_done(rawio_handle *h) {
  if (h->inflight > 0) h->inflight--;
  if (h->closed && h->inflight == 0 && h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
}

/* ---------- geometry ---------- */

typedef struct {
  int err;
  const char *syscall;
  int is_block;
  uint32_t logical;
  uint32_t physical;
  uint32_t mem_align;
  uint64_t size;
  uint64_t dev;   /* st_rdev for a block device, st_dev for a file */
  uint64_t ino;   /* 0 for a block device */
} rawio_geometry;

static void read_geometry(int fd, rawio_geometry *g) {
  memset(g, 0, sizeof *g);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    g->err = errno;
    g->syscall = "fstat";
    return;
  }
  if (S_ISBLK(st.st_mode)) {
    int logical = 0;
    unsigned int physical = 0;
    uint64_t size = 0;
    if (ioctl(fd, BLKSSZGET, &logical) != 0) {
      g->err = errno;
      g->syscall = "ioctl(BLKSSZGET)";
      return;
    }
    if (ioctl(fd, BLKPBSZGET, &physical) != 0) physical = (unsigned int)logical;
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
      g->err = errno;
      g->syscall = "ioctl(BLKGETSIZE64)";
      return;
    }
    g->is_block = 1;
    g->logical = (uint32_t)logical;
    g->physical = physical;
    g->mem_align = (uint32_t)logical;
    g->size = size;
    g->dev = (uint64_t)st.st_rdev;
    g->ino = 0;
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    g->err = ENOTBLK;
    g->syscall = "fstat";
    return;
  }
  g->is_block = 0;
  g->logical = RAWIO_DEFAULT_ALIGN;
  g->mem_align = RAWIO_DEFAULT_ALIGN;
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
      (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align > 0) {
    g->logical = sx.stx_dio_offset_align;
    g->mem_align = sx.stx_dio_mem_align > 0 ? sx.stx_dio_mem_align : sx.stx_dio_offset_align;
  }
  g->physical = g->logical;
  g->size = (uint64_t)st.st_size;
  g->dev = (uint64_t)st.st_dev;
  g->ino = (uint64_t)st.st_ino;
}

static napi_value geometry_object(napi_env env, const rawio_geometry *g) {
  napi_value obj;
  NAPI_CALL(env, napi_create_object(env, &obj));
  set_number(env, obj, "logicalSectorSize", g->logical);
  set_number(env, obj, "physicalSectorSize", g->physical);
  set_number(env, obj, "memoryAlignment", g->mem_align);
  set_number(env, obj, "sizeBytes", (double)g->size);
  set_bool(env, obj, "isBlockDevice", g->is_block);
  char identity[64];
  if (g->is_block)
    snprintf(identity, sizeof identity, "blk:%u:%u", major(g->dev), minor(g->dev));
  else
    snprintf(identity, sizeof identity, "file:%u:%u:%llu", major(g->dev), minor(g->dev),
             (unsigned long long)g->ino);
  set_string(env, obj, "identity", identity);
  return obj;
}

/* geometry(handle): asks the device again, so callers can notice a change. */
static napi_value Geometry(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.geometry(handle): missing handle");
  rawio_handle *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (h->closed) return throw_usage(env, "ERR_RAWIO_CLOSED", "rawio.geometry: the handle is closed");
  rawio_geometry g;
  read_geometry(h->fd, &g);
  if (g.err != 0) {
    napi_value e = errno_error(env, g.err, g.syscall, h->path, "reading the geometry", NULL);
    if (e != NULL) napi_throw(env, e);
    return NULL;
  }
  return geometry_object(env, &g);
}

/* ---------- async work ---------- */

static void execute(napi_env env, void *data) {
  (void)env;
  rawio_request *req = data;
  rawio_handle *h = req->handle;
  if (req->op == OP_OPEN) {
    int flags = (req->open_write ? O_RDWR : O_RDONLY) | O_DIRECT | O_SYNC | O_CLOEXEC;
    int fd;
    do {
      fd = open(h->path, flags);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      req->err = errno;
      req->syscall = "open";
      return;
    }
    rawio_geometry g;
    read_geometry(fd, &g);
    if (g.err != 0) {
      req->err = g.err;
      req->syscall = g.syscall;
      close(fd);
      return;
    }
    h->fd = fd;
    h->align = g.logical;
    h->mem_align = g.mem_align > RAWIO_MIN_MEM_ALIGN ? g.mem_align : RAWIO_MIN_MEM_ALIGN;
    return;
  }

  size_t done = 0;
  /* A partial transfer is continued only while it ended on a sector boundary,
   * so every call keeps an aligned offset, length and buffer address. Each
   * continued call moves at least one sector, which bounds the loop; EINTR
   * retries are bounded too. */
  size_t max_calls = req->length / h->align + 8;
  for (size_t calls = 0; done < req->length && calls < max_calls; calls++) {
    char *p = (char *)req->buffer + done;
    off_t off = (off_t)(req->offset + done);
    ssize_t n = req->op == OP_READ ? pread(h->fd, p, req->length - done, off)
                                   : pwrite(h->fd, p, req->length - done, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      req->err = errno;
      req->syscall = req->op == OP_READ ? "pread" : "pwrite";
      return;
    }
    done += (size_t)n;
    if (n == 0 || (size_t)n % h->align != 0) break;
  }
  if (done < req->length) {
    req->short_transfer = 1;
    req->err = ENXIO;
    req->syscall = req->op == OP_READ ? "pread" : "pwrite";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  rawio_request *req = data;
  rawio_handle *h = req->handle;
  napi_value result = NULL;
  int ok = status == napi_ok && req->err == 0;

  transfer_done(h);

  if (status == napi_cancelled) {
    result = make_error(env, "ECANCELED", "rawio: the request was cancelled");
  } else if (!ok) {
    char what[128];
    if (req->op == OP_OPEN) {
      snprintf(what, sizeof what, "opening for direct I/O (%s)", req->open_write ? "read-write" : "read-only");
    } else {
      snprintf(what, sizeof what, "%s of %zu bytes at offset %llu", req->op == OP_READ ? "read" : "write",
               req->length, (unsigned long long)req->offset);
    }
    result = errno_error(env, req->err, req->syscall, h->path, what,
                         req->short_transfer ? "the transfer runs past the end of the device" : NULL);
  } else if (req->op == OP_OPEN) {
    result = NULL;
    napi_get_reference_value(env, req->handle_ref, &result);
  } else if (req->op == OP_READ) {
    void *copy = NULL;
    if (napi_create_buffer_copy(env, req->length, req->buffer, &copy, &result) != napi_ok) result = NULL;
  } else {
    napi_get_undefined(env, &result);
  }

  if (result == NULL) {
    ok = 0;
    result = make_error(env, "ERR_RAWIO_NAPI", "rawio: could not build the result");
  }
  if (ok)
    napi_resolve_deferred(env, req->deferred, result);
  else
    napi_reject_deferred(env, req->deferred, result);
  release_request(env, req);
}

static napi_value queue(napi_env env, rawio_request *req, napi_value handle_value, const char *name) {
  napi_value promise, resource_name;
  if (napi_create_reference(env, handle_value, 1, &req->handle_ref) != napi_ok ||
      napi_create_promise(env, &req->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute, complete, req, &req->work) != napi_ok ||
      napi_queue_async_work(env, req->work) != napi_ok) {
    release_request(env, req);
    return throw_usage(env, "ERR_RAWIO_NAPI", "rawio: could not queue the request");
  }
  req->handle->inflight++;
  return promise;
}

/* ---------- open / close ---------- */

/* open(path, write) -> Promise<handle> */
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.open(path, write): missing arguments");
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || len == 0)
    return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.open: the path must be a non-empty string");
  if (len >= RAWIO_MAX_PATH) return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.open: the path is too long");
  bool write = false;
  if (napi_get_value_bool(env, argv[1], &write) != napi_ok)
    return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.open: write must be a boolean");

  rawio_handle *h = calloc(1, sizeof *h);
  rawio_request *req = calloc(1, sizeof *req);
  if (h == NULL || req == NULL) {
    free(h);
    free(req);
    return throw_usage(env, "ENOMEM", "rawio.open: out of memory");
  }
  h->fd = -1;
  h->writable = write;
  napi_get_value_string_utf8(env, argv[0], h->path, sizeof h->path, &len);
  napi_value handle_value;
  if (napi_create_external(env, h, handle_finalize, NULL, &handle_value) != napi_ok) {
    free(h);
    free(req);
    return throw_usage(env, "ERR_RAWIO_NAPI", "rawio.open: could not create the handle");
  }
  req->op = OP_OPEN;
  req->handle = h;
  req->open_write = write;
  return queue(env, req, handle_value, "rawio.open");
}

/* close(handle): idempotent; deferred until in-flight transfers end. */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.close(handle): missing handle");
  rawio_handle *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (!h->closed) {
    h->closed = 1;
    if (h->inflight == 0 && h->fd >= 0) {
      close(h->fd);
      h->fd = -1;
    }
  }
  return NULL;
}

/* ---------- pread / pwrite ---------- */

static int get_transfer_args(napi_env env, rawio_handle *h, napi_value off_v, size_t length, const char *what,
                             uint64_t *offset) {
  char message[RAWIO_MAX_PATH + 256];
  double off_d = -1;
  if (napi_get_value_double(env, off_v, &off_d) != napi_ok || !(off_d >= 0) || off_d > 9007199254740991.0 ||
      off_d != (double)(uint64_t)off_d) {
    snprintf(message, sizeof message, "rawio.%s on %s: the offset must be a non-negative integer", what, h->path);
    throw_usage(env, "ERR_RAWIO_ARGS", message);
    return 0;
  }
  *offset = (uint64_t)off_d;
  if (length == 0 || length > RAWIO_MAX_TRANSFER) {
    snprintf(message, sizeof message, "rawio.%s on %s: the length %zu must be between 1 and %u bytes", what,
             h->path, length, RAWIO_MAX_TRANSFER);
    throw_usage(env, "ERR_RAWIO_ARGS", message);
    return 0;
  }
  if (*offset % h->align != 0 || length % h->align != 0) {
    snprintf(message, sizeof message,
             "rawio.%s on %s: %zu bytes at offset %llu is not aligned to the device's %u-byte sectors; "
             "direct I/O needs the offset and the length to be multiples of %u",
             what, h->path, length, (unsigned long long)*offset, h->align, h->align);
    throw_usage(env, "ERR_RAWIO_ALIGNMENT", message);
    return 0;
  }
  return 1;
}

static rawio_request *new_transfer(napi_env env, rawio_handle *h, rawio_op op, uint64_t offset, size_t length) {
  rawio_request *req = calloc(1, sizeof *req);
  if (req == NULL) {
    throw_usage(env, "ENOMEM", "rawio: out of memory");
    return NULL;
  }
  if (posix_memalign(&req->buffer, h->mem_align, length) != 0) {
    free(req);
    throw_usage(env, "ENOMEM", "rawio: could not allocate an aligned buffer");
    return NULL;
  }
  req->op = op;
  req->handle = h;
  req->offset = offset;
  req->length = length;
  return req;
}

static rawio_handle *open_handle(napi_env env, napi_value value, const char *what) {
  rawio_handle *h = get_handle(env, value);
  if (h == NULL) return NULL;
  if (h->closed || h->fd < 0) {
    char message[RAWIO_MAX_PATH + 64];
    snprintf(message, sizeof message, "rawio.%s on %s: the handle is closed", what, h->path);
    throw_usage(env, "ERR_RAWIO_CLOSED", message);
    return NULL;
  }
  return h;
}

/* pread(handle, offset, length) -> Promise<Buffer> */
static napi_value Pread(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.pread(handle, offset, length): missing arguments");
  rawio_handle *h = open_handle(env, argv[0], "pread");
  if (h == NULL) return NULL;
  double len_d = 0;
  if (napi_get_value_double(env, argv[2], &len_d) != napi_ok || !(len_d >= 0) || len_d > RAWIO_MAX_TRANSFER ||
      len_d != (double)(size_t)len_d)
    len_d = 0;
  uint64_t offset;
  if (!get_transfer_args(env, h, argv[1], (size_t)len_d, "pread", &offset)) return NULL;
  rawio_request *req = new_transfer(env, h, OP_READ, offset, (size_t)len_d);
  if (req == NULL) return NULL;
  return queue(env, req, argv[0], "rawio.pread");
}

/* pwrite(handle, offset, data) -> Promise<void>; data is copied before queueing. */
static napi_value Pwrite(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.pwrite(handle, offset, data): missing arguments");
  rawio_handle *h = open_handle(env, argv[0], "pwrite");
  if (h == NULL) return NULL;
  if (!h->writable) {
    char message[RAWIO_MAX_PATH + 64];
    snprintf(message, sizeof message, "rawio.pwrite on %s: the device was opened read-only", h->path);
    return throw_usage(env, "ERR_RAWIO_READONLY", message);
  }
  bool is_buffer = false;
  void *data = NULL;
  size_t length = 0;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok)
    return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.pwrite: data must be a Buffer");
  uint64_t offset;
  if (!get_transfer_args(env, h, argv[1], length, "pwrite", &offset)) return NULL;
  rawio_request *req = new_transfer(env, h, OP_WRITE, offset, length);
  if (req == NULL) return NULL;
  memcpy(req->buffer, data, length);
  return queue(env, req, argv[0], "rawio.pwrite");
}

/* ---------- advisory file locks ---------- */

/* flock(fd, take): take (true) or release (false) an exclusive advisory lock without waiting.
 * Resolves nothing: returns true when done, false when another process holds the lock. The
 * kernel drops the lock when its holder exits, however it exits, so no lock is ever stale. */
static napi_value Flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  bool take = false;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_bool(env, argv[1], &take) != napi_ok)
    return throw_usage(env, "ERR_RAWIO_ARGS", "rawio.flock(fd, take): needs a file descriptor and a boolean");
  int r;
  do {
    r = flock(fd, take ? (LOCK_EX | LOCK_NB) : LOCK_UN);
  } while (r != 0 && errno == EINTR);
  napi_value result;
  if (r == 0) {
    NAPI_CALL(env, napi_get_boolean(env, true, &result));
    return result;
  }
  if (errno == EWOULDBLOCK) {
    NAPI_CALL(env, napi_get_boolean(env, false, &result));
    return result;
  }
  napi_value e = errno_error(env, errno, "flock", "(lock file)", "locking", NULL);
  if (e != NULL) napi_throw(env, e);
  return NULL;
}

/* ---------- watchdog ---------- */

/* watchdogTimeout(fd, seconds): sets a watchdog device's timeout (WDIOC_SETTIMEOUT), then reads
 * back what the driver took (WDIOC_GETTIMEOUT): drivers round, and some cap it. With seconds 0 it
 * only reads. A descriptor that is not a watchdog fails with ENOTTY. */
static napi_value WatchdogTimeout(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  int32_t seconds = -1;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int32(env, argv[1], &seconds) != napi_ok || seconds < 0)
    return throw_usage(env, "ERR_RAWIO_ARGS",
                       "rawio.watchdogTimeout(fd, seconds): needs a file descriptor and whole seconds (0 to read only)");
  if (seconds > 0) {
    int wanted = seconds;
    if (ioctl(fd, WDIOC_SETTIMEOUT, &wanted) != 0) {
      napi_value e = errno_error(env, errno, "ioctl", "(watchdog)", "setting the watchdog timeout (WDIOC_SETTIMEOUT)", NULL);
      if (e != NULL) napi_throw(env, e);
      return NULL;
    }
  }
  int actual = 0;
  if (ioctl(fd, WDIOC_GETTIMEOUT, &actual) != 0) {
    napi_value e = errno_error(env, errno, "ioctl", "(watchdog)", "reading the watchdog timeout (WDIOC_GETTIMEOUT)", NULL);
    if (e != NULL) napi_throw(env, e);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_create_int32(env, actual, &result));
  return result;
}

/* ---------- module ---------- */

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geometry", NULL, Geometry, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pread", NULL, Pread, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pwrite", NULL, Pwrite, NULL, NULL, NULL, napi_enumerable, NULL},
      {"flock", NULL, Flock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchdogTimeout", NULL, WatchdogTimeout, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value max_transfer;
  NAPI_CALL(env, napi_create_uint32(env, RAWIO_MAX_TRANSFER, &max_transfer));
  NAPI_CALL(env, napi_set_named_property(env, exports, "MAX_TRANSFER", max_transfer));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
