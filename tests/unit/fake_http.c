/*
 * fake_http.c - the stand-in HTTP server of fake_http.h: one child process,
 * one request per connection, a scripted answer each.
 */
#include "fake_http.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_HELD 64

/* Read the request head (and a Content-Length body, so that closing the
   connection never resets it under the client); its first line into line. */
static int read_request(int c, char *line, size_t cap)
{
    char buf[16384];
    size_t len = 0;
    char *end = NULL, *cl;
    long body = 0;

    while (!end) {
        ssize_t n;
        if (len + 1 >= sizeof(buf))
            return -1;
        n = read(c, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    {
        char *eol = strstr(buf, "\r\n");
        size_t n = (size_t)(eol - buf);
        char *sp = memchr(buf, ' ', n), *sp2 = sp ? memchr(sp + 1, ' ', n - (size_t)(sp + 1 - buf)) : NULL;
        if (sp2)
            n = (size_t)(sp2 - buf);
        if (n >= cap)
            n = cap - 1;
        memcpy(line, buf, n);
        line[n] = '\0';
    }
    for (cl = buf; (cl = strcasestr(cl, "\r\nContent-Length:")) && cl < end; cl++) {
        body = strtol(cl + 17, NULL, 10);
        break;
    }
    body -= (long)(len - (size_t)(end + 4 - buf));
    while (body > 0) {
        ssize_t n = read(c, buf, sizeof(buf) < (size_t)body ? sizeof(buf) : (size_t)body);
        if (n <= 0)
            break;
        body -= n;
    }
    return 0;
}

static void serve(int fd, int log_w, const char *const *answers, size_t nanswers,
                  const char *head_answer)
{
    int held[MAX_HELD], nheld = 0;
    size_t next = 0;

    for (;;) {
        char line[600];
        const char *answer;
        int c = accept(fd, NULL, NULL);

        if (c < 0) {
            if (errno == EINTR)
                continue;
            _exit(0);
        }
        if (read_request(c, line, sizeof(line) - 1) != 0) {
            close(c);
            continue;
        }
        if (head_answer && strncmp(line, "HEAD ", 5) == 0) {
            answer = head_answer;
        } else {
            answer = answers[next < nanswers ? next : nanswers - 1];
            next++;
        }
        strcat(line, "\n");
        if (write(log_w, line, strlen(line)) < 0)
            _exit(1);
        if (answer[0] == '\0') {
            if (nheld < MAX_HELD)
                held[nheld++] = c;          /* never answered, never closed */
            else
                close(c);
            continue;
        }
        if (write(c, answer, strlen(answer)) < 0) {
            /* the client gave up: nothing to do */
        }
        shutdown(c, SHUT_WR);
        close(c);
    }
    (void)held;
}

void og_fake_http_start(struct og_fake_http *f, const char *const *answers, size_t nanswers,
                        const char *head_answer)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), pipefd[2];

    assert_true(nanswers > 0);
    memset(f, 0, sizeof(*f));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(pipe(pipefd), 0);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        close(pipefd[0]);
        serve(fd, pipefd[1], answers, nanswers, head_answer);
        _exit(0);
    }
    close(fd);
    close(pipefd[1]);
    f->log_fd = pipefd[0];
    assert_int_equal(fcntl(f->log_fd, F_SETFL, O_NONBLOCK), 0);
    f->port = ntohs(a.sin_port);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
}

void og_fake_http_stop(struct og_fake_http *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    if (f->log_fd > 0) {
        close(f->log_fd);
        f->log_fd = -1;
    }
}

int og_fake_http_requests(struct og_fake_http *f, char *buf, size_t cap)
{
    char tmp[4096];
    size_t len = 0;
    int lines = 0;
    ssize_t n;

    while ((n = read(f->log_fd, tmp, sizeof(tmp))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (tmp[i] == '\n')
                lines++;
            if (buf && len + 1 < cap)
                buf[len++] = tmp[i];
        }
    }
    if (buf && cap)
        buf[len] = '\0';
    return lines;
}
