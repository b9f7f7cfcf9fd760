import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { describeIssues } from './message-parser';

/** REST bodies/params through a zod schema: 400 `{statusCode, error:'bad_message', message:'<field>: <problem>'}`. */
@Injectable()
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(
    private readonly schema: T,
    private readonly what = 'body',
  ) {}

  transform(value: unknown): z.infer<T> {
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) {
      const input = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
      throw new BadRequestException({
        statusCode: 400,
        error: 'bad_message',
        message: `${this.what}: ${describeIssues(parsed.error.issues, input)}`,
      });
    }
    return parsed.data;
  }
}
