/**
 * Arithmetic for the `calculate` tool: a tokenizer and a Pratt parser that evaluates as it
 * parses. Nothing here reaches JavaScript evaluation; the only names it knows are the
 * functions and constants below, looked up in null-prototype tables.
 *
 * Grammar (loosest first):
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | '+' unary | power
 *   power   := primary ('^' unary)?            right-associative, binds tighter than unary minus
 *   primary := number | constant | name '(' expr (',' expr)* ')' | '(' expr ')'
 * `**` is accepted for `^`, `×` and `÷` for `*` and `/`.
 */

export class CalculatorError extends Error {}

export const MAX_EXPRESSION_LENGTH = 1000
export const MAX_NESTING_DEPTH = 64

type Fn = { min: number; max: number; apply: (args: number[]) => number }

const functions: Record<string, Fn> = Object.assign(Object.create(null), {
  sqrt: {
    min: 1,
    max: 1,
    apply: ([x]: number[]) => {
      if (x < 0) throw new CalculatorError('sqrt of a negative number is not a real number')
      return Math.sqrt(x)
    },
  },
  abs: { min: 1, max: 1, apply: ([x]: number[]) => Math.abs(x) },
  round: {
    min: 1,
    max: 2,
    apply: ([x, digits = 0]: number[]) => {
      if (!Number.isInteger(digits) || digits < 0 || digits > 15)
        throw new CalculatorError('round(x, digits) needs digits to be a whole number from 0 to 15')
      const factor = 10 ** digits
      return Math.round((x + Number.EPSILON * Math.sign(x)) * factor) / factor
    },
  },
  floor: { min: 1, max: 1, apply: ([x]: number[]) => Math.floor(x) },
  ceil: { min: 1, max: 1, apply: ([x]: number[]) => Math.ceil(x) },
  min: { min: 1, max: 100, apply: (args: number[]) => Math.min(...args) },
  max: { min: 1, max: 100, apply: (args: number[]) => Math.max(...args) },
  log: {
    min: 1,
    max: 2,
    apply: ([x, base]: number[]) => {
      if (x <= 0) throw new CalculatorError('log is only defined for positive numbers')
      if (base === undefined) return Math.log10(x)
      if (base <= 0 || base === 1) throw new CalculatorError('log base must be positive and not 1')
      return Math.log(x) / Math.log(base)
    },
  },
  ln: {
    min: 1,
    max: 1,
    apply: ([x]: number[]) => {
      if (x <= 0) throw new CalculatorError('ln is only defined for positive numbers')
      return Math.log(x)
    },
  },
  exp: { min: 1, max: 1, apply: ([x]: number[]) => Math.exp(x) },
})

const constants: Record<string, number> = Object.assign(Object.create(null), { pi: Math.PI, e: Math.E })

type Token =
  | { kind: 'num'; value: number; pos: number }
  | { kind: 'name'; value: string; pos: number }
  | { kind: 'op'; value: string; pos: number }
  | { kind: 'end'; pos: number }

const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/

function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < input.length) {
    const ch = input[i]
    if (/\s/.test(ch)) {
      i++
      continue
    }
    const rest = input.slice(i, i + 400)
    const num = NUMBER.exec(rest)
    if (num) {
      // "2e" or "2.5e+" are not numbers; the regex only takes the exponent when digits follow.
      tokens.push({ kind: 'num', value: Number(num[0]), pos: i })
      i += num[0].length
      continue
    }
    const name = NAME.exec(rest)
    if (name) {
      tokens.push({ kind: 'name', value: name[0].toLowerCase(), pos: i })
      i += name[0].length
      continue
    }
    if (ch === '*' && input[i + 1] === '*') {
      tokens.push({ kind: 'op', value: '^', pos: i })
      i += 2
      continue
    }
    const op = ch === '×' ? '*' : ch === '÷' ? '/' : ch === '−' ? '-' : ch
    if ('+-*/%^(),'.includes(op)) {
      tokens.push({ kind: 'op', value: op, pos: i })
      i++
      continue
    }
    throw new CalculatorError(
      `unexpected character "${ch}" at position ${i + 1}; only numbers, + - * / % ^, parentheses and math functions are allowed`,
    )
  }
  tokens.push({ kind: 'end', pos: input.length })
  return tokens
}

function describe(token: Token): string {
  if (token.kind === 'end') return 'end of expression'
  return `"${String(token.value)}" at position ${token.pos + 1}`
}

class Parser {
  #i = 0
  #depth = 0
  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    const value = this.expr()
    const next = this.peek()
    if (next.kind !== 'end') throw new CalculatorError(`unexpected ${describe(next)}`)
    return value
  }

  private peek(): Token {
    return this.tokens[this.#i]
  }

  private take(): Token {
    return this.tokens[this.#i++]
  }

  private isOp(value: string): boolean {
    const t = this.peek()
    return t.kind === 'op' && t.value === value
  }

  private expect(value: string) {
    const t = this.take()
    if (t.kind !== 'op' || t.value !== value) throw new CalculatorError(`expected "${value}" but found ${describe(t)}`)
  }

  /** Every recursion goes through here, so hostile nesting ends in a clear error, not a stack overflow. */
  private nested<T>(fn: () => T): T {
    if (++this.#depth > MAX_NESTING_DEPTH)
      throw new CalculatorError(`expression is nested too deeply (more than ${MAX_NESTING_DEPTH} levels)`)
    try {
      return fn()
    } finally {
      this.#depth--
    }
  }

  private expr(): number {
    let left = this.term()
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.take() as { value: string }).value
      const right = this.term()
      left = op === '+' ? left + right : left - right
    }
    return left
  }

  private term(): number {
    let left = this.unary()
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = (this.take() as { value: string }).value
      const right = this.unary()
      if (op === '*') left *= right
      else if (right === 0) throw new CalculatorError(op === '/' ? 'division by zero' : 'modulo by zero')
      else left = op === '/' ? left / right : left % right
    }
    return left
  }

  private unary(): number {
    if (this.isOp('-')) {
      this.take()
      return this.nested(() => -this.unary())
    }
    if (this.isOp('+')) {
      this.take()
      return this.nested(() => this.unary())
    }
    return this.power()
  }

  private power(): number {
    const base = this.primary()
    if (!this.isOp('^')) return base
    this.take()
    const exponent = this.nested(() => this.unary())
    if (base === 0 && exponent < 0) throw new CalculatorError('division by zero (0 raised to a negative power)')
    const value = base ** exponent
    if (Number.isNaN(value))
      throw new CalculatorError('a negative number raised to a fractional power is not a real number')
    return value
  }

  private primary(): number {
    const t = this.take()
    if (t.kind === 'num') return t.value
    if (t.kind === 'op' && t.value === '(') {
      const value = this.nested(() => this.expr())
      this.expect(')')
      return value
    }
    if (t.kind === 'name') {
      if (this.isOp('(')) return this.call(t.value, t.pos)
      const constant = constants[t.value]
      if (constant !== undefined) return constant
      if (functions[t.value]) throw new CalculatorError(`function ${t.value} needs parentheses, e.g. ${t.value}(2)`)
      throw new CalculatorError(
        `unknown name "${t.value}"; known functions: ${Object.keys(functions).join(', ')}; constants: pi, e`,
      )
    }
    throw new CalculatorError(t.kind === 'end' ? 'the expression ends too early' : `unexpected ${describe(t)}`)
  }

  private call(name: string, pos: number): number {
    const fn = functions[name]
    if (!fn)
      throw new CalculatorError(
        `unknown function "${name}" at position ${pos + 1}; known functions: ${Object.keys(functions).join(', ')}`,
      )
    this.expect('(')
    const args: number[] = []
    if (!this.isOp(')')) {
      do {
        if (args.length >= fn.max)
          throw new CalculatorError(`${name} takes at most ${fn.max} argument${fn.max === 1 ? '' : 's'}`)
        args.push(this.nested(() => this.expr()))
      } while (this.isOp(',') && this.take())
    }
    this.expect(')')
    if (args.length < fn.min)
      throw new CalculatorError(`${name} needs at least ${fn.min} argument${fn.min === 1 ? '' : 's'}`)
    return fn.apply(args)
  }
}

/**
 * Evaluates an arithmetic expression. Throws `CalculatorError` with a message fit for a model
 * or a person: syntax errors name the position, division by zero and non-finite results say so.
 * The result is rounded to 15 significant digits, so 0.1 + 0.2 is 0.3.
 */
export function calculate(expression: string): number {
  if (typeof expression !== 'string') throw new CalculatorError('expression must be a string')
  if (expression.length > MAX_EXPRESSION_LENGTH)
    throw new CalculatorError(`expression is too long (at most ${MAX_EXPRESSION_LENGTH} characters)`)
  if (expression.trim() === '') throw new CalculatorError('expression is empty')
  const value = new Parser(tokenize(expression)).parse()
  if (Number.isNaN(value)) throw new CalculatorError('the result is not a number')
  if (!Number.isFinite(value)) throw new CalculatorError('the result is too large (not a finite number)')
  const rounded = Number(value.toPrecision(15))
  return Object.is(rounded, -0) ? 0 : rounded
}
