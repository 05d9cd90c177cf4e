/*
 * watch.h - `snisync watch`: the pipeline driven by inotify events.
 */
#ifndef SNISYNC_WATCH_H
#define SNISYNC_WATCH_H

#include "conf.h"

/*
 * watch_run(conf_path, explicit_conf, conf): runs until SIGTERM/SIGINT
 * (then returns 0 after the current sync). Takes ownership of conf (it is
 * replaced on SIGHUP). Returns non-zero only when it cannot start.
 */
int	watch_run(const char *conf_path, int explicit_conf, struct conf *c);

#endif
