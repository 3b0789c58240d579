/**
 * An FTS5 query restricted to one owner's rows. The full-text indexes that hold every user's
 * rows (messages_fts, document_chunks_fts) index the owner's id as tokens in a `user_id`
 * column, so naming it inside the MATCH makes the index itself yield only that user's matches:
 * a search costs the user's own matches, not the whole team's. Callers still check `user_id` on
 * the rows they join, so the index never decides alone who sees what.
 */
export function ownerMatch(userId: string, column: string, query: string): string {
  // The id as the tokenizer splits it (letters and digits), quoted as one phrase.
  const owner = userId.replace(/[^\p{L}\p{N}]+/gu, ' ').trim()
  return `user_id : "${owner}" AND ${column} : (${query})`
}
