import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/auth.decorators';
import { ClusterMembership } from '../cluster/membership';
import type { ClusterView } from '../contracts/cluster';
import { CodedError } from '../contracts/errors';

@ApiTags('cluster')
@ApiBearerAuth()
@Controller('api/cluster')
export class ClusterController {
  constructor(@Optional() @Inject(ClusterMembership) private readonly membership: ClusterMembership | null) {}

  /** A single node lists itself; in a cluster, every node that heartbeated within 3 periods (docs/CLUSTER.md). */
  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: 'This node and every live node of the cluster: id, HTTP address, cameras, load, last seen' })
  view(): ClusterView {
    if (!this.membership) throw new CodedError('unavailable', 'this server was built without cluster membership');
    return this.membership.view();
  }
}
