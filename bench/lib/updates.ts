// What the load generators POST: updates shaped as Telegram sends them (a private text message of
// about 600 bytes, a voice message, a press on an inline button), each with its own update_id and
// spread over many users, so neither dedupe nor the per-chat queue is short-circuited.
//
// Each kind is a template: literal JSON parts with slots between them. wrk's Lua script and the
// Node load loop render the same templates, so both generators send byte-identical bodies.

export type UpdateKind = 'text' | 'voice' | 'callback'
export type Slot = 'update_id' | 'user_id'

export interface Template {
  kind: UpdateKind
  /** parts.length === slots.length + 1; body = parts[0] + slot0 + parts[1] + ... */
  parts: string[]
  slots: Slot[]
}

/** The order the kinds are sent in, repeating: 8 text messages, 1 voice, 1 button press. */
export const MIX: readonly UpdateKind[] = ['text', 'text', 'text', 'text', 'voice', 'text', 'text', 'text', 'text', 'callback']

/** The bot's own id, as in the replies and the callback's message. */
export const BENCH_BOT_ID = 7000000001

// Stand-ins that occur nowhere else in the JSON: the slots are cut out where they appear.
const MARK: Record<Slot, number> = { update_id: 987654321001, user_id: 987654321002 }

function user (id: number): Record<string, unknown> {
  return { id, is_bot: false, first_name: 'Anna', last_name: 'Petrova', username: 'anna_petrova_92', language_code: 'ru', is_premium: true }
}

function privateChat (id: number): Record<string, unknown> {
  return { id, first_name: 'Anna', last_name: 'Petrova', username: 'anna_petrova_92', type: 'private' }
}

const TEXT = 'Hello! I would like to practise my pronunciation today. Yesterday I recorded the dialogue ' +
  'about booking a hotel room, but I am not sure about the stress in "comfortable". Could you send ' +
  'the next exercise? https://example.com/lesson/12'

/** An update carrying a private message from `userId` with the given content fields. */
function privateMessage (updateId: number, userId: number, date: number, content: Record<string, unknown>): Record<string, unknown> {
  return { update_id: updateId, message: { message_id: updateId, from: user(userId), chat: privateChat(userId), date, ...content } }
}

function sample (kind: UpdateKind, updateId: number, userId: number): Record<string, unknown> {
  const date = 1764422400
  switch (kind) {
    case 'text':
      return privateMessage(updateId, userId, date, {
        text: TEXT,
        entities: [{ offset: TEXT.indexOf('https://'), length: 'https://example.com/lesson/12'.length, type: 'url' }]
      })
    case 'voice':
      return privateMessage(updateId, userId, date, {
        voice: { duration: 7, mime_type: 'audio/ogg', file_id: 'AwACAgIAAxkBAAIBLmdVx3fQk2sV8pJmZyq0tB8x1rYAAk9eAAKgQ4FKhH1sZ4n2q0g2NgQ', file_unique_id: 'AgADT14AAqBDgUo', file_size: 18734 }
      })
    case 'callback':
      return {
        update_id: updateId,
        callback_query: {
          id: `49217${updateId}`,
          from: user(userId),
          message: {
            message_id: 1200,
            from: { id: BENCH_BOT_ID, is_bot: true, first_name: 'Bench', username: 'bench_ingress_bot' },
            chat: privateChat(userId),
            date,
            text: 'Exercise 12: which word is stressed on the first syllable?',
            reply_markup: { inline_keyboard: [[{ text: 'comfortable', callback_data: 'ex12:a' }, { text: 'vegetable', callback_data: 'ex12:b' }]] }
          },
          chat_instance: '-4837261028374650192',
          data: 'ex12:a'
        }
      }
  }
}

export function makeTemplate (kind: UpdateKind): Template {
  let rest = JSON.stringify(sample(kind, MARK.update_id, MARK.user_id))
  const parts: string[] = []
  const slots: Slot[] = []
  for (;;) {
    const next = (Object.keys(MARK) as Slot[])
      .map((slot) => ({ slot, at: rest.indexOf(String(MARK[slot])) }))
      .filter((hit) => hit.at >= 0)
      .sort((a, b) => a.at - b.at)[0]
    if (next === undefined) break
    parts.push(rest.slice(0, next.at))
    slots.push(next.slot)
    rest = rest.slice(next.at + String(MARK[next.slot]).length)
  }
  parts.push(rest)
  return { kind, parts, slots }
}

export const TEMPLATES: Record<UpdateKind, Template> = {
  text: makeTemplate('text'),
  voice: makeTemplate('voice'),
  callback: makeTemplate('callback')
}

export function render (template: Template, values: Record<Slot, number>): string {
  let body = template.parts[0] ?? ''
  for (let i = 0; i < template.slots.length; i++) body += String(values[template.slots[i] as Slot]) + (template.parts[i + 1] ?? '')
  return body
}

/** Where the n-th request of a load run goes: its update_id and its user (a private chat). */
export interface Sequence {
  firstUpdateId: number
  firstUserId: number
  /** How many distinct users the updates are spread over. */
  users: number
}

export function nthUpdate (seq: Sequence, n: number): { updateId: number, kind: UpdateKind, body: string } {
  const updateId = seq.firstUpdateId + n
  const kind = MIX[n % MIX.length] as UpdateKind
  const body = render(TEMPLATES[kind], { update_id: updateId, user_id: seq.firstUserId + (n % seq.users) })
  return { updateId, kind, body }
}

/** The templates and the mix as a Lua chunk that wrk's script loads with dofile(). */
export function luaTemplates (): string {
  const str = (s: string): string => `[==[${s}]==]`
  const entries = MIX.map((kind) => {
    const t = TEMPLATES[kind]
    return `  { kind = "${kind}", parts = { ${t.parts.map(str).join(', ')} }, slots = { ${t.slots.map((s) => `"${s}"`).join(', ')} } }`
  })
  return `-- generated by bench/lib/updates.ts: one entry per position in the mix\nreturn {\n${entries.join(',\n')}\n}\n`
}

/**
 * Id ranges for successive loads: each gets more ids than a load of its length can send (at
 * 200 000 updates/s), so no two loads, phases or contenders of a run share an update_id.
 */
export class UpdateIds {
  #next = 100_000_000
  constructor (readonly users: number) {}

  next (seconds: number): Sequence {
    const sequence = { firstUpdateId: this.#next, firstUserId: 500_000_000, users: this.users }
    this.#next += Math.max(1_000_000, Math.ceil(seconds) * 200_000)
    return sequence
  }
}
