/*
 * An open-loop HTTP/1.1 sender at an even rate, for bench/paced-load.ts (which compiles it).
 *
 * Request i is due at start + i/rate whatever happened to the earlier ones, so a slow server
 * cannot hide by slowing the sender down (coordinated omission). Written in C because a sender
 * in Node measured itself: its 1 ms timers and its own event loop and garbage collections put
 * 0.7 ms into the median of a hello-world that answers in 0.08 ms. Here the sends are woken by
 * an absolute timerfd with 1 µs slack, and each connection has one request in flight (keep-alive;
 * new connections are opened while every open one is busy, up to MAX_CONNECTIONS).
 *
 *   paced-sender HOST-IPV4 PORT RATE SECONDS METHOD PATH BODY-FILE|- [HEADER ...]
 *
 * Prints one line per request, "<ms from send> <ms from schedule> <status>", status 0 for a
 * request that failed or was still waiting DRAIN_SECONDS after the schedule ended.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 256
#define BUFFER_BYTES 65536
#define DRAIN_SECONDS 10

struct connection {
  int fd;
  long request; /* index of the request in flight, -1 when idle */
  long long sent_ns;
  size_t used;
  char buffer[BUFFER_BYTES];
};

static struct connection connections[MAX_CONNECTIONS];
static int connection_count = 0;
static struct sockaddr_in address;
static int epoll_fd;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static struct connection *open_connection(void) {
  if (connection_count == MAX_CONNECTIONS) return NULL;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* Blocking connect: on loopback it takes microseconds, and a send waiting for it is late. */
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
  struct connection *c = &connections[connection_count++];
  c->fd = fd;
  c->request = -1;
  c->used = 0;
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) die("epoll_ctl");
  return c;
}

static struct connection *idle_connection(void) {
  for (int i = 0; i < connection_count; i++)
    if (connections[i].request < 0 && connections[i].fd >= 0) return &connections[i];
  return open_connection();
}

/* The whole response is in the buffer: returns its status, 0 while incomplete, -1 if unusable. */
static int complete_response(struct connection *c) {
  c->buffer[c->used] = '\0';
  char *end = strstr(c->buffer, "\r\n\r\n");
  if (end == NULL) return 0;
  int status = atoi(c->buffer + 9);
  long length = -1;
  for (char *line = strstr(c->buffer, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n"))
    if (strncasecmp(line + 2, "content-length:", 15) == 0) length = atol(line + 17);
  if (length < 0) return -1; /* no Content-Length (chunked): not something these servers send */
  size_t total = (size_t)(end + 4 - c->buffer) + (size_t)length;
  if (total >= BUFFER_BYTES) return -1;
  return c->used >= total ? status : 0;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s HOST PORT RATE SECONDS METHOD PATH BODY-FILE|- [HEADER ...]\n", argv[0]);
    return 2;
  }
  double rate = atof(argv[3]);
  long total = (long)(rate * atof(argv[4]) + 0.5);
  const char *method = argv[5], *path = argv[6];
  static char body[1 << 20];
  size_t body_length = 0;
  if (strcmp(argv[7], "-") != 0) {
    FILE *file = fopen(argv[7], "rb");
    if (file == NULL) die("body file");
    body_length = fread(body, 1, sizeof body, file);
    fclose(file);
  }
  static char request[1 << 21];
  int head = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n", method, path, argv[1], argv[2]);
  for (int i = 8; i < argc; i++) head += snprintf(request + head, sizeof request - head, "%s\r\n", argv[i]);
  if (body_length > 0) head += snprintf(request + head, sizeof request - head, "Content-Length: %zu\r\n", body_length);
  head += snprintf(request + head, sizeof request - head, "\r\n");
  memcpy(request + head, body, body_length);
  size_t request_length = (size_t)head + body_length;

  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) die("address");
  prctl(PR_SET_TIMERSLACK, 1UL);
  epoll_fd = epoll_create1(0);
  int timer = timerfd_create(CLOCK_MONOTONIC, 0);
  struct epoll_event timer_event = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, timer, &timer_event);
  for (int i = 0; i < 8; i++) open_connection();

  double *service = calloc((size_t)total, sizeof(double));
  double *scheduled = calloc((size_t)total, sizeof(double));
  int *status = calloc((size_t)total, sizeof(int));
  long long interval_ns = (long long)(1e9 / rate);
  long long start = now_ns() + 10000000LL;
  long long deadline = start + (long long)total * interval_ns + DRAIN_SECONDS * 1000000000LL;
  long next = 0, finished = 0;
  while (finished < total && now_ns() < deadline) {
    long long now = now_ns();
    while (next < total && start + next * interval_ns <= now) {
      struct connection *c = idle_connection();
      if (c == NULL) break; /* every connection busy: the backlog waits for a response */
      if (write(c->fd, request, request_length) != (ssize_t)request_length) {
        status[next] = 0;
        service[next] = scheduled[next] = (now_ns() - start - next * interval_ns) / 1e6;
        finished++;
        close(c->fd);
        c->fd = -1;
      } else {
        c->request = next;
        c->sent_ns = now_ns();
      }
      next++;
    }
    if (next < total) {
      long long due = start + next * interval_ns;
      struct itimerspec when = {.it_value = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL}};
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, NULL);
    }
    struct epoll_event events[64];
    int ready = epoll_wait(epoll_fd, events, 64, 100);
    if (ready < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < ready; i++) {
      struct connection *c = events[i].data.ptr;
      if (c == NULL) {
        unsigned long long expirations;
        if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd");
        continue;
      }
      ssize_t got = read(c->fd, c->buffer + c->used, BUFFER_BYTES - 1 - c->used);
      int code = got > 0 ? (c->used += (size_t)got, complete_response(c)) : -1;
      if (code == 0) continue;
      long long done = now_ns();
      if (c->request >= 0) {
        long index = c->request;
        service[index] = (done - c->sent_ns) / 1e6;
        scheduled[index] = (done - start - index * interval_ns) / 1e6;
        status[index] = code > 0 ? code : 0;
        finished++;
      }
      c->request = -1;
      c->used = 0;
      if (code < 0) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
      }
    }
  }
  long long end = now_ns();
  for (long i = 0; i < total; i++) {
    /* Never answered: as late as the run's end, and failed. */
    if (status[i] == 0 && service[i] == 0) service[i] = scheduled[i] = (end - start - i * interval_ns) / 1e6;
    printf("%.4f %.4f %d\n", service[i], scheduled[i], status[i]);
  }
  return 0;
}
