// `node dist/lab/demo-down.js STATE_FILE`: scripts/demo.sh's trap. Tears down what a demo
// recorded in STATE_FILE when the demo process could not do it itself.
import { readDemoState, teardownDemo } from './demo-state.js';

const file = process.argv[2];
const state = file ? readDemoState(file) : null;
if (state) await teardownDemo(state);
