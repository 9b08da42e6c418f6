// Which members `cluster-mgr status` asks: --url alone, else the default members it was given (the
// playground's, wired by main.ts), else the default address.
import t from 'tap';
import { candidateUrls, DEFAULT_STATUS_URL } from '../../src/cli/status.js';

t.same(candidateUrls('http://10.0.0.1:58000/', ['http://a:1']), ['http://10.0.0.1:58000'], '--url wins, trailing slash dropped');
t.same(candidateUrls(undefined, ['http://a:1', 'http://b:2']), ['http://a:1', 'http://b:2'], 'the default members next');
t.same(candidateUrls(undefined, []), [DEFAULT_STATUS_URL], 'the default address last');
