// Only test/telegram/api-client.test.ts still imports from here; it goes away with
// src/telegram/api-client.ts, and this file with it. The Bot API fake is the emulator (bot-api.ts).
export { FAKE_TOKEN } from './bot-api.js'
