/* main.c - panda-server entry point: settings, then the server. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "server.h"

int main(int argc, char **argv)
{
    struct config cfg;
    struct kv_err err = {0};
    int rc = cfg_load(&cfg, argc, argv, stdout, &err);
    if (rc == CFG_EXIT) return 0;
    if (rc == CFG_ERROR) {
        fprintf(stderr, "panda-server: %s\n", err.msg);
        return 2;
    }
    log_set_level(cfg.log_level);
    if (srv_init(&g_srv, &cfg, &err) != 0) {
        log_error("cannot start: %s", err.msg);
        return 1;
    }
    return srv_run(&g_srv);
}
