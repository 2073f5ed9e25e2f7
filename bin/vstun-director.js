#!/usr/bin/env node
import "../dist/cli/vstun-director.js";
