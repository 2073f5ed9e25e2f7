#!/usr/bin/env node
import "../dist/cli/vstun-agent.js";
