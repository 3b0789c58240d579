import { Type } from '@sinclair/typebox'
import { calculate, MAX_EXPRESSION_LENGTH } from '../calculator'
import { defineTool } from './define'

export const calculateTool = defineTool({
  name: 'calculate',
  description:
    'Evaluate an arithmetic expression exactly. Supports + - * / % ^, parentheses, sqrt abs round floor ceil min max log ln exp, and pi, e. ' +
    'Use it for every calculation instead of doing math in your head. Example: {"expression": "(1200 - 950) / 950 * 100"}',
  parameters: Type.Object({
    expression: Type.String({
      minLength: 1,
      maxLength: MAX_EXPRESSION_LENGTH,
      description: 'the arithmetic expression, numbers and operators only',
    }),
  }),
  async execute({ expression }) {
    return { value: calculate(expression) }
  },
})
