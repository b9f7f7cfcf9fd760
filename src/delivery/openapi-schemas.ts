import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import { CameraInputSchema } from '../contracts/cameras';

/** OpenAPI schemas generated from the same zod schemas the pipes validate with, so docs cannot drift. */
function fromZod(schema: z.ZodType): SchemaObject {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return json as SchemaObject;
}

export const CAMERA_INPUT_SCHEMA = fromZod(CameraInputSchema);

export const CAMERA_VIEW_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['id', 'name', 'url', 'kind', 'fps', 'loop', 'userId', 'status'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    url: { type: 'string', description: 'the source URL with any password replaced by ***' },
    kind: { type: 'string', enum: ['rtsp', 'http', 'file', 'device', 'browser'] },
    fps: { type: 'number', description: 'requested frames per second' },
    loop: { type: 'boolean' },
    userId: { type: 'string', nullable: true },
    status: { type: 'string', enum: ['connecting', 'streaming', 'reconnecting', 'failed', 'stopped'] },
    reason: { type: 'string' },
    measuredFps: { type: 'number' },
    node: { type: 'string', nullable: true, description: 'the node that runs it (cluster: null while no node holds its lease); docs/CLUSTER.md' },
  },
};

export const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string', description: 'an ErrorCode of contracts/errors.ts (bad_message, not_found, unauthorized, …)' },
    message: { type: 'string' },
  },
};
