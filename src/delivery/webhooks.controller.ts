import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { RequireScope } from '../auth/auth.decorators';
import { LABEL_NAMES } from '../contracts/labels';
import {
  WebhookDeliveryView,
  WebhookInput,
  WebhookInputSchema,
  WebhookPatch,
  WebhookPatchSchema,
  WebhookView,
  WebhookWithSecret,
} from '../contracts/webhooks';
import { ERROR_SCHEMA } from './openapi-schemas';
import { WebhooksService } from './webhooks/webhooks.service';
import { ZodValidationPipe } from './zod-validation.pipe';

const idPipe = new ZodValidationPipe(z.string().min(1).max(64), 'id');
/** ?limit= of the delivery log (newest first). */
export const DeliveryLimitSchema = z.coerce.number().int().min(1).max(10_000).optional();
const errors = (...codes: number[]) => codes.map((status) => ApiResponse({ status, schema: ERROR_SCHEMA }));
const apply = (decorators: MethodDecorator[]): MethodDecorator => (t, k, d) => {
  for (const dec of decorators) dec(t, k, d);
};

const RULE_PROPERTIES = {
  url: { type: 'string', example: 'https://example.com/hooks/iexpressionnet' },
  cameraId: { type: 'string', nullable: true },
  userId: { type: 'string', nullable: true },
  label: { type: 'string', enum: [...LABEL_NAMES], nullable: true },
  minScore: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
  minDurationMs: { type: 'integer', minimum: 0, default: 0 },
  cooldownMs: { type: 'integer', minimum: 0, default: 0 },
  enabled: { type: 'boolean', default: true },
};
const VIEW_SCHEMA = {
  type: 'object',
  properties: { id: { type: 'string' }, ...RULE_PROPERTIES, createdAt: { type: 'integer' } },
};
const WITH_SECRET_SCHEMA = { ...VIEW_SCHEMA, properties: { ...VIEW_SCHEMA.properties, secret: { type: 'string', description: 'shown only in this answer' } } };
const DELIVERY_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    webhookId: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'retrying', 'delivered', 'failed'] },
    attempts: { type: 'integer' },
    responseStatus: { type: 'integer', nullable: true },
    lastError: { type: 'string', nullable: true },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    event: { type: 'object' },
  },
};

/** Webhook rules and their delivery logs (docs/INTEGRATIONS.md, "Webhooks"). Admin only: URLs may carry tokens. */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('api/webhooks')
export class WebhooksController {
  constructor(@Inject(WebhooksService) private readonly webhooks: WebhooksService) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Add a webhook rule; the answer holds its signing secret, shown this once',
    description: '400 `invalid_url` (not http(s), or user:password@), `destination_forbidden` (link-local / cloud metadata host), `bad_message`; 404: `cameraId` or `userId` names nothing.',
  })
  @ApiBody({ schema: { type: 'object', required: ['url'], properties: RULE_PROPERTIES } })
  @ApiResponse({ status: 201, schema: WITH_SECRET_SCHEMA })
  @apply(errors(400, 401, 403, 404))
  create(@Body(new ZodValidationPipe(WebhookInputSchema)) input: WebhookInput): Promise<WebhookWithSecret> {
    return this.webhooks.create(input);
  }

  @Get()
  @RequireScope('admin')
  @ApiOperation({ summary: 'All webhook rules (never their secrets)' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: VIEW_SCHEMA } })
  @apply(errors(401, 403))
  list(): WebhookView[] {
    return this.webhooks.list();
  }

  @Get(':id')
  @RequireScope('admin')
  @ApiParam({ name: 'id' })
  @ApiResponse({ status: 200, schema: VIEW_SCHEMA })
  @apply(errors(401, 403, 404))
  get(@Param('id', idPipe) id: string): WebhookView {
    return this.webhooks.get(id);
  }

  @Patch(':id')
  @RequireScope('admin')
  @ApiParam({ name: 'id' })
  @ApiOperation({ summary: 'Change any of a rule\'s fields (null clears cameraId, userId or label); a new url is checked again' })
  @ApiBody({ schema: { type: 'object', properties: RULE_PROPERTIES } })
  @ApiResponse({ status: 200, schema: VIEW_SCHEMA })
  @apply(errors(400, 401, 403, 404))
  update(@Param('id', idPipe) id: string, @Body(new ZodValidationPipe(WebhookPatchSchema)) patch: WebhookPatch): Promise<WebhookView> {
    return this.webhooks.update(id, patch);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiParam({ name: 'id' })
  @ApiResponse({ status: 204, description: 'removed, with its delivery log; deliveries in progress stop' })
  @apply(errors(401, 403, 404))
  remove(@Param('id', idPipe) id: string): void {
    this.webhooks.remove(id);
  }

  @Post(':id/secret')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiParam({ name: 'id' })
  @ApiOperation({ summary: 'Rotate the signing secret: the answer holds the new one, shown this once; the old one stops at once' })
  @ApiResponse({ status: 200, schema: WITH_SECRET_SCHEMA })
  @apply(errors(401, 403, 404))
  rotate(@Param('id', idPipe) id: string): WebhookWithSecret {
    return this.webhooks.rotateSecret(id);
  }

  @Get(':id/deliveries')
  @RequireScope('admin')
  @ApiParam({ name: 'id' })
  @ApiQuery({ name: 'limit', required: false, description: 'newest first; at most WEBHOOK_LOG_KEEP are kept' })
  @ApiOperation({ summary: 'The rule\'s delivery log: status, attempts, last HTTP status and error, timestamps' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: DELIVERY_SCHEMA } })
  @apply(errors(400, 401, 403, 404))
  deliveries(@Param('id', idPipe) id: string, @Query('limit', new ZodValidationPipe(DeliveryLimitSchema, 'limit')) limit?: number): WebhookDeliveryView[] {
    return this.webhooks.deliveries(id, limit ?? 100);
  }
}
