// Regenerates config/config.schema.json from the zod schema (a unit test fails when it is stale).
import { writeFileSync } from 'node:fs';
import { serializeJsonSchema } from '../src/config/json-schema.js';

writeFileSync(new URL('../config/config.schema.json', import.meta.url), serializeJsonSchema());
