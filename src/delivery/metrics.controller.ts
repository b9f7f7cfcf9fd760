import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, register, Registry } from 'prom-client';
import { RequireScope } from '../auth/auth.decorators';
import { DeliveryMetrics } from './delivery.metrics';
import { METRICS_REGISTRIES } from './delivery.tokens';

let defaultsCollected = false;
/** Process metrics (CPU, RSS, event-loop lag, handles) in prom-client's global registry, once per process. */
function collectDefaultsOnce(): void {
  if (defaultsCollected || register.getSingleMetric('process_cpu_user_seconds_total')) return;
  defaultsCollected = true;
  collectDefaultMetrics({ prefix: '' });
}

@ApiTags('metrics')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  private readonly registries: Registry[];

  constructor(
    @Inject(DeliveryMetrics) delivery: DeliveryMetrics,
    @Inject(METRICS_REGISTRIES) extra: Registry[],
  ) {
    collectDefaultsOnce();
    // Concatenated, not Registry.merge(): merge throws on any name two registries share.
    this.registries = [...new Set([register, delivery.registry, ...extra])];
  }

  @Get()
  @RequireScope('read')
  @Header('Content-Type', register.contentType)
  @ApiOperation({ summary: 'Prometheus text format: process, pipeline and WebSocket metrics' })
  async metrics(): Promise<string> {
    const texts = await Promise.all(this.registries.map((r) => r.metrics()));
    return texts.filter((t) => t.trim().length > 0).join('\n');
  }
}
