/**
 * allowed_updates as Telegram reads it (Client.cpp get_allowed_update_types): missing or
 * unreadable means "keep what was set before"; a list with no known type (e.g. []) means the
 * default, which is every type except chat_member, message_reaction and message_reaction_count.
 *
 * The list is the emulator's own, not the ingress's: it models Telegram's server and must not move
 * when our service's configuration does.
 */
const ALL_UPDATE_TYPES = [
  'message', 'edited_message', 'channel_post', 'edited_channel_post', 'business_connection',
  'business_message', 'edited_business_message', 'deleted_business_messages', 'message_reaction',
  'message_reaction_count', 'inline_query', 'chosen_inline_result', 'callback_query', 'shipping_query',
  'pre_checkout_query', 'purchased_paid_media', 'poll', 'poll_answer', 'my_chat_member', 'chat_member',
  'chat_join_request', 'chat_boost', 'removed_chat_boost'
] as const

const OPT_IN_TYPES = new Set(['chat_member', 'message_reaction', 'message_reaction_count'])

export const DEFAULT_ALLOWED_UPDATES: ReadonlySet<string> =
  new Set(ALL_UPDATE_TYPES.filter((type) => !OPT_IN_TYPES.has(type)))

/** The new set, or undefined when the argument leaves the previous setting in force. */
export function parseAllowedUpdates (text: string): ReadonlySet<string> | undefined {
  if (text === '') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) return undefined
  const known = new Set<string>(ALL_UPDATE_TYPES)
  const chosen = new Set((value as string[]).map((item) => item.toLowerCase()).filter((item) => known.has(item)))
  return chosen.size === 0 ? DEFAULT_ALLOWED_UPDATES : chosen
}

export function isDefaultAllowed (allowed: ReadonlySet<string>): boolean {
  return allowed.size === DEFAULT_ALLOWED_UPDATES.size && [...allowed].every((type) => DEFAULT_ALLOWED_UPDATES.has(type))
}

/** In Telegram's order, as getWebhookInfo lists them. */
export function listAllowed (allowed: ReadonlySet<string>): string[] {
  return ALL_UPDATE_TYPES.filter((type) => allowed.has(type))
}
