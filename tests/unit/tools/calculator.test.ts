import { describe, expect, test } from 'bun:test'
import { calculate, CalculatorError, MAX_EXPRESSION_LENGTH, MAX_NESTING_DEPTH } from '../../../src/tools/calculator'

function error(expression: string): string {
  try {
    calculate(expression)
  } catch (e) {
    expect(e).toBeInstanceOf(CalculatorError)
    return (e as Error).message
  }
  throw new Error(`expected "${expression.slice(0, 40)}" to fail`)
}

describe('calculator grammar', () => {
  test.each([
    ['1 + 2', 3],
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['10 - 4 - 3', 3],
    ['100 / 10 / 5', 2],
    ['7 % 3', 1],
    ['2 ^ 3 ^ 2', 512], // right-associative: 2^(3^2)
    ['2 ** 10', 1024],
    ['-2 ^ 2', -4], // power binds tighter than unary minus
    ['(-2) ^ 2', 4],
    ['2 ^ -1', 0.5],
    ['--3', 3],
    ['-(-(4))', 4],
    ['+5', 5],
    ['3.5e2', 350],
    ['1.5E-3 * 1000', 1.5],
    ['.5 + 0.25', 0.75],
    ['0.1 + 0.2', 0.3],
    ['sqrt(16) + abs(-3)', 7],
    ['round(2.5)', 3],
    ['round(3.14159, 2)', 3.14],
    ['floor(-1.5) + ceil(1.2)', 0],
    ['min(4, 2, 8) + max(1, 9)', 11],
    ['log(1000)', 3],
    ['log(8, 2)', 3],
    ['ln(e)', 1],
    ['exp(0)', 1],
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: pi rounded to 4 places is what is tested
    ['round(pi, 4)', 3.1416],
    ['PI * 0', 0],
    ['SQRT(9)', 3],
    ['6 × 7 ÷ 2', 21],
    ['(1200 - 950) / 950 * 100', 26.3157894736842],
    ['  12  ', 12],
  ])('%s = %p', (expression, value) => {
    expect(calculate(expression)).toBe(value)
  })

  test('results are plain finite numbers, never -0', () => {
    expect(Object.is(calculate('-0'), 0)).toBe(true)
    expect(Object.is(calculate('0 * -1'), 0)).toBe(true)
  })
})

describe('calculator errors', () => {
  test('division and modulo by zero are clear errors', () => {
    expect(error('1 / 0')).toBe('division by zero')
    expect(error('5 / (2 - 2)')).toBe('division by zero')
    expect(error('5 % 0')).toBe('modulo by zero')
    expect(error('0 ^ -1')).toContain('division by zero')
  })

  test.each([
    ['non-finite or non-real result', '10 ^ 400', 'too large'],
    ['non-finite or non-real result', 'exp(1000)', 'too large'],
    ['non-finite or non-real result', 'sqrt(-1)', 'not a real number'],
    ['non-finite or non-real result', '(-8) ^ 0.5', 'not a real number'],
    ['non-finite or non-real result', 'ln(0)', 'positive'],
    ['non-finite or non-real result', 'log(-1)', 'positive'],
    ['syntax error', '', 'empty'],
    ['syntax error', '   ', 'empty'],
    ['syntax error', '1 +', 'ends too early'],
    ['syntax error', '(1 + 2', 'expected ")"'],
    ['syntax error', '1 + 2)', 'unexpected ")"'],
    ['syntax error', '2 3', 'unexpected "3"'],
    ['syntax error', '2e', 'unexpected "e"'],
    ['syntax error', 'sqrt', 'needs parentheses'],
    ['syntax error', 'sqrt()', 'at least 1 argument'],
    ['syntax error', 'sqrt(1, 2)', 'at most 1 argument'],
    ['syntax error', 'round(1.5, 0.5)', 'whole number'],
    ['syntax error', 'foo(1)', 'unknown function "foo"'],
    ['syntax error', 'x + 1', 'unknown name "x"'],
  ])('%s: %p says what is wrong', (_, expression, message) => {
    expect(error(expression)).toContain(message)
  })

  test.each([
    ['constructor'],
    ['__proto__'],
    ['toString()'],
    ['valueOf(1)'],
    ['hasOwnProperty(1)'],
    ['process.exit(1)'],
    ['require("fs")'],
    ['this'],
    ['globalThis'],
    ['Function("return 1")()'],
    ['1;2'],
    ['1, 2'],
    ['a = 1'],
    ['`1`'],
    ['[1]'],
    ['{}'],
    ['1 && 2'],
    ['eval("1+1")'],
    ['"1" + 1'],
    ['sqrt.constructor'],
  ])('hostile input %s is rejected, not evaluated', (expression) => {
    const message = error(expression)
    expect(message.length).toBeGreaterThan(0)
  })

  test('names are looked up only among the known functions and constants', () => {
    expect(error('constructor')).toContain('unknown name "constructor"')
    expect(error('constructor(1)')).toContain('unknown function "constructor"')
    expect(error('__proto__')).toContain('unknown name')
    expect(error('process.exit(1)')).toMatch(/unexpected character "\."|unknown/)
  })

  test('10k-deep parentheses end in a clear error, not a stack overflow', () => {
    const deep = '('.repeat(10_000) + '1' + ')'.repeat(10_000)
    expect(error(deep)).toContain('too long')
  })

  test('nesting within the length limit is capped by depth', () => {
    const ok = '('.repeat(MAX_NESTING_DEPTH - 1) + '1' + ')'.repeat(MAX_NESTING_DEPTH - 1)
    expect(calculate(ok)).toBe(1)
    const deep = '('.repeat(200) + '1' + ')'.repeat(200)
    expect(error(deep)).toContain('nested too deeply')
    expect(error('-'.repeat(500) + '1')).toContain('nested too deeply')
    expect(error('2^'.repeat(300) + '1')).toContain('nested too deeply')
    expect(error('sqrt('.repeat(100) + '1' + ')'.repeat(100))).toContain('nested too deeply')
  })

  test('huge strings are refused by length before any parsing', () => {
    expect(error('1+'.repeat(MAX_EXPRESSION_LENGTH) + '1')).toContain('too long')
    expect(error('9'.repeat(5_000_000))).toContain('too long')
    // A long number within the limit is just a (large) number.
    expect(calculate('1' + '0'.repeat(300))).toBe(1e300)
  })
})
