import { Type } from '@sinclair/typebox'
import { ToolError } from '../failure'
import { defineTool } from './define'

/** The canonical IANA name of a zone Intl knows, or undefined. */
export function canonicalTimeZone(zone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0')

/** The wall-clock time in `timeZone` as ISO 8601 with that zone's offset, e.g. 2025-03-01T09:30:00+01:00. */
export function wallTimeIso(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(date)
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value)
  const [year, month, day, hour, minute, second] = [
    get('year'),
    get('month'),
    get('day'),
    get('hour') % 24,
    get('minute'),
    get('second'),
  ]
  const wholeSeconds = Math.floor(date.getTime() / 1000) * 1000
  const offsetMinutes = Math.round((Date.UTC(year, month - 1, day, hour, minute, second) - wholeSeconds) / 60_000)
  const sign = offsetMinutes < 0 ? '-' : '+'
  const offset = `${sign}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${offset}`
}

export function currentTimeTool(now: () => Date = () => new Date()) {
  return defineTool({
    name: 'current_time',
    description:
      'Get the current date and time, optionally in an IANA time zone such as "Europe/Paris" or "America/New_York". Use it whenever the answer depends on today\'s date or the time.',
    parameters: Type.Object({
      timezone: Type.Optional(
        Type.String({ maxLength: 64, description: "IANA time zone name; omit for the server's zone" }),
      ),
    }),
    async execute({ timezone }) {
      const requested = timezone?.trim() || serverTimeZone()
      const zone = canonicalTimeZone(requested)
      if (!zone)
        throw new ToolError(
          `unknown time zone "${requested}"; use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC"`,
        )
      return { iso: wallTimeIso(now(), zone), timezone: zone }
    },
  })
}
