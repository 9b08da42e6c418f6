// Every job handler module registers itself on import; one import line per handler file.
import './machines.js';
import './switch.js';
import './storage.js';
import './comps.js';
import './control.js';
import './raft-mission.js';
import './set-variable.js';
