// Validates an OpenAPI document (a file) against the official OpenAPI 3.1 JSON Schema.
// Usage: node validate_openapi.mjs FILE ; prints "PASS valid <version>" or the errors and exits 1.
import { Validator } from "@seriousme/openapi-schema-validator";
import { readFileSync } from "node:fs";

const validator = new Validator();
const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const result = await validator.validate(doc);
if (!result.valid) {
  console.log(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
console.log("PASS valid", validator.version);
