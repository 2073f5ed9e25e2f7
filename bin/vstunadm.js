#!/usr/bin/env node
import "../dist/cli/vstunadm.js";
