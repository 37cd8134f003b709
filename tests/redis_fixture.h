/* SPDX-License-Identifier: MIT */
/*
 * redis_fixture.h - Redis servers for the tests of the Redis swap
 * backend: started as child processes of the test on free loopback ports
 * (a port is picked by binding a socket to 127.0.0.1:0 first), without
 * persistence (--save '' --appendonly no), each in its own temporary
 * directory, and killed by process id: by rf_stop, at exit (atexit), and
 * by the kernel if the test dies first (PR_SET_PDEATHSIG).  A cluster is
 * three such servers with cluster-enabled, joined by
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`.
 * Needs hiredis (UMM_HAVE_HIREDIS) and redis-server / redis-cli in PATH.
 */
#ifndef UMM_REDIS_FIXTURE_H
#define UMM_REDIS_FIXTURE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

extern char **environ;

struct rf_server {
	pid_t pid;
	int port;
	char dir[64];
	char pass[64];                /* requirepass, "" none */
	bool cluster;
};

#define RF_MAX_SERVERS 16
static struct rf_server *rf_all[RF_MAX_SERVERS];

/* rf_have_tools - are redis-server and redis-cli in PATH? */
static inline bool rf_have_tools(void)
{
	return !system("command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1");
}

/* rf_port_free - can a listening socket bind 127.0.0.1:port now? */
static inline bool rf_port_free(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	bool ok;

	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));     /* as redis-server binds */
	ok = !bind(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return ok;
}

/*
 * rf_free_port - a loopback port nobody listens on now; for a cluster
 * node, whose bus listens on port + 10000, that one free too (a node
 * that cannot bind its bus exits at once).  Another process may still
 * take either before the server binds it: rf_start then tries new ports.
 */
static inline int rf_free_port(bool cluster)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	/* A cluster bus listens on port + 10000: keep both in range. */
	if (port <= 0 || port >= 55535 || (cluster && !rf_port_free(port + 10000)))
		return rf_free_port(cluster);
	return port;
}

/* rf_connect - a hiredis connection to 127.0.0.1:port (authenticated with pass when not ""), or NULL. */
static inline redisContext *rf_connect(int port, const char *pass)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (pass && pass[0]) {
		redisReply *r = redisCommand(c, "AUTH %s", pass);
		bool ok = r && r->type != REDIS_REPLY_ERROR;

		if (r)
			freeReplyObject(r);
		if (!ok) {
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

/* rf_cmd - one command on a fresh connection to s; the reply (caller frees) or NULL. */
static inline redisReply *rf_cmd(const struct rf_server *s, const char *fmt, ...)
{
	redisContext *c = rf_connect(s->port, s->pass);
	redisReply *r;
	va_list ap;

	if (!c)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	redisFree(c);
	return r;
}

/* rf_int - the integer reply of a command on s, or -1. */
static inline long long rf_int(const struct rf_server *s, const char *fmt, ...)
{
	redisContext *c = rf_connect(s->port, s->pass);
	redisReply *r;
	long long v = -1;
	va_list ap;

	if (!c)
		return -1;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return v;
}

static void rf_kill_all(void)
{
	for (int i = 0; i < RF_MAX_SERVERS; i++)
		if (rf_all[i] && rf_all[i]->pid > 0) {
			kill(rf_all[i]->pid, SIGKILL);
			waitpid(rf_all[i]->pid, NULL, 0);
			rf_all[i]->pid = 0;
		}
}

/*
 * rf_start_once - start s on s->port (picked when 0) and wait until it
 * answers PING (about 5 s at most while it is running).  0, or -1 with
 * the server gone.
 */
static inline int rf_start_once(struct rf_server *s, const char *const *extra)
{
	static bool registered;
	const char *argv[64];
	char port[16], log[96], conf[96];
	int n = 0;

	if (!registered) {
		atexit(rf_kill_all);
		registered = true;
	}
	if (!s->port)
		s->port = rf_free_port(s->cluster);
	if (!s->dir[0]) {
		snprintf(s->dir, sizeof(s->dir), "/tmp/usermm-redis-XXXXXX");
		if (!mkdtemp(s->dir))
			return -1;
	}
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	snprintf(conf, sizeof(conf), "%s/nodes.conf", s->dir);
	argv[n++] = "redis-server";
	argv[n++] = "--port"; argv[n++] = port;
	argv[n++] = "--bind"; argv[n++] = "127.0.0.1";
	argv[n++] = "--save"; argv[n++] = "";
	argv[n++] = "--appendonly"; argv[n++] = "no";
	argv[n++] = "--daemonize"; argv[n++] = "no";
	argv[n++] = "--dir"; argv[n++] = s->dir;
	argv[n++] = "--logfile"; argv[n++] = log;
	if (s->pass[0]) {
		argv[n++] = "--requirepass"; argv[n++] = s->pass;
		argv[n++] = "--masterauth"; argv[n++] = s->pass;
	}
	if (s->cluster) {
		argv[n++] = "--cluster-enabled"; argv[n++] = "yes";
		argv[n++] = "--cluster-config-file"; argv[n++] = conf;
		argv[n++] = "--cluster-node-timeout"; argv[n++] = "2000";
		argv[n++] = "--cluster-require-full-coverage"; argv[n++] = "no";
	}
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	pid_t parent = getpid(), pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("redis-server", (char **)argv);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; i < RF_MAX_SERVERS; i++)
		if (!rf_all[i] || rf_all[i] == s) {
			rf_all[i] = s;
			break;
		}
	for (int tries = 0; tries < 500; tries++) {
		redisContext *c = rf_connect(s->port, s->pass);

		if (c) {
			redisReply *r = redisCommand(c, "PING");
			bool ok = r && r->type == REDIS_REPLY_STATUS;

			if (r)
				freeReplyObject(r);
			redisFree(c);
			if (ok)
				return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			s->pid = 0;
			return -1;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	s->pid = 0;
	return -1;
}

/*
 * rf_start - start s (its port picked when 0, then kept for restarts)
 * and wait until it answers PING.  extra: more "--option value" words,
 * NULL-terminated.  A server on a port it picked that does not come up
 * (another process took the port, or the bus port, after the check) is
 * tried again on new ports, a few times.  0 or -1.
 */
static inline int rf_start(struct rf_server *s, const char *const *extra)
{
	bool picked = !s->port;

	for (int attempt = 0; attempt < 5; attempt++) {
		if (!rf_start_once(s, extra))
			return 0;
		if (!picked)
			break;
		s->port = 0;
	}
	return -1;
}

/* rf_stop - kill s (SIGKILL: no save, the way a crash loses memory) and reap it. */
static inline void rf_stop(struct rf_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

/* rf_cleanup - stop s and remove its directory. */
static inline void rf_cleanup(struct rf_server *s)
{
	char cmd[128];

	rf_stop(s);
	if (s->dir[0] && !strncmp(s->dir, "/tmp/usermm-redis-", 18)) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd)) { /* best effort */ }
	}
	for (int i = 0; i < RF_MAX_SERVERS; i++)
		if (rf_all[i] == s)
			rf_all[i] = NULL;
	memset(s, 0, sizeof(*s));
}

/*
 * rf_run_for - run argv (redis-cli ...) to completion, output to
 * /dev/null, killing it after `limit_s` seconds (0: no limit); its exit
 * status, or -1 (not run, killed by a signal, or past the limit).
 */
static inline int rf_run_for(const char *const *argv, int limit_s)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char **)argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	for (long waited_ms = 0; limit_s && waited_ms < limit_s * 1000L; waited_ms += 10) {
		pid_t got = waitpid(pid, &st, WNOHANG);

		if (got == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (got < 0)
			return -1;
		usleep(10000);
	}
	if (limit_s)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return !limit_s && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* rf_run - rf_run_for without a limit. */
static inline int rf_run(const char *const *argv)
{
	return rf_run_for(argv, 0);
}

/* rf_cluster_ok - does every node of the cluster say cluster_state:ok and agree on the slots? */
static inline bool rf_cluster_ok(struct rf_server *nodes, int n)
{
	for (int i = 0; i < n; i++) {
		redisReply *r = rf_cmd(&nodes[i], "CLUSTER INFO");
		bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok") &&
			  strstr(r->str, "cluster_slots_assigned:16384") && strstr(r->str, "cluster_known_nodes:3");

		if (r)
			freeReplyObject(r);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * rf_cluster_try - three cluster-enabled servers joined into one
 * cluster; `redis-cli --cluster create` waits without a limit for the
 * nodes to agree ("Waiting for the cluster to join"), so it is given 60 s
 * (it takes about 2 s).  0 or -1 (the servers then stopped).
 */
static inline int rf_cluster_try(struct rf_server nodes[3])
{
	char a[3][32];
	int err = -1;

	for (int i = 0; i < 3; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].cluster = true;
	}
	for (int i = 0; i < 3; i++) {
		if (rf_start(&nodes[i], NULL))
			goto out;
		snprintf(a[i], sizeof(a[i]), "127.0.0.1:%d", nodes[i].port);
	}
	const char *argv[] = { "redis-cli", "--cluster", "create", a[0], a[1], a[2],
			       "--cluster-replicas", "0", "--cluster-yes", NULL };
	if (rf_run_for(argv, 60))
		goto out;
	for (int tries = 0; tries < 1000; tries++) {
		if (rf_cluster_ok(nodes, 3))
			return 0;
		usleep(10000);
	}
out:
	for (int i = 0; i < 3; i++)
		rf_cleanup(&nodes[i]);
	return err;
}

/* rf_cluster_start - rf_cluster_try, a new cluster up to three times.  0 or -1. */
static inline int rf_cluster_start(struct rf_server nodes[3])
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (!rf_cluster_try(nodes))
			return 0;
		fprintf(stderr, "redis_fixture: cluster attempt %d did not come up, starting a new one\n",
			attempt + 1);
	}
	return -1;
}

/* rf_node_id - CLUSTER MYID of s into id (41 bytes).  0 or -1. */
static inline int rf_node_id(const struct rf_server *s, char *id, size_t len)
{
	redisReply *r = rf_cmd(s, "CLUSTER MYID");
	int err = -1;

	if (r && r->type == REDIS_REPLY_STRING) {
		snprintf(id, len, "%s", r->str);
		err = 0;
	}
	if (r)
		freeReplyObject(r);
	return err;
}

#endif
