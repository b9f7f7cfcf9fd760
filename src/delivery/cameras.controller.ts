import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { RequireScope } from '../auth/auth.decorators';
import { CameraInput, CameraInputSchema, CameraView } from '../contracts/cameras';
import { CameraAccess } from './camera-access';
import { CAMERA_INPUT_SCHEMA, CAMERA_VIEW_SCHEMA, ERROR_SCHEMA } from './openapi-schemas';
import { ZodValidationPipe } from './zod-validation.pipe';

const CameraIdSchema = z.string().min(1).max(64);
const idPipe = new ZodValidationPipe(CameraIdSchema, 'id');
const errors = (...codes: number[]) => codes.map((status) => ApiResponse({ status, schema: ERROR_SCHEMA }));
const apply = (decorators: MethodDecorator[]): MethodDecorator => (t, k, d) => {
  for (const dec of decorators) dec(t, k, d);
};

@ApiTags('cameras')
@ApiBearerAuth()
@Controller('api/cameras')
export class CamerasController {
  constructor(@Inject(CameraAccess) private readonly cameras: CameraAccess) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Add a camera (rtsp://, rtsps://, http(s)://, file:///abs/path, device:///dev/video0)',
    description: '400 `destination_forbidden`: the host is, or resolves to, a link-local or cloud-metadata address. 404: `userId` names no user.',
  })
  @ApiBody({ schema: CAMERA_INPUT_SCHEMA })
  @ApiResponse({ status: 201, schema: CAMERA_VIEW_SCHEMA })
  @apply(errors(400, 401, 403, 404, 409))
  add(@Body(new ZodValidationPipe(CameraInputSchema)) input: CameraInput): Promise<CameraView> {
    return this.cameras.add(input);
  }

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: 'All cameras with their status' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: CAMERA_VIEW_SCHEMA } })
  @apply(errors(401))
  list(): Promise<CameraView[]> {
    return this.cameras.list();
  }

  @Get(':id')
  @RequireScope('read')
  @ApiParam({ name: 'id' })
  @ApiResponse({ status: 200, schema: CAMERA_VIEW_SCHEMA })
  @apply(errors(401, 404))
  get(@Param('id', idPipe) id: string): Promise<CameraView> {
    return this.cameras.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiParam({ name: 'id' })
  @ApiResponse({ status: 204, description: 'removed; its ffmpeg process is gone' })
  @apply(errors(401, 403, 404))
  async remove(@Param('id', idPipe) id: string): Promise<void> {
    await this.cameras.remove(id);
  }

  @Post(':id/retry')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Restart a camera now (e.g. one that went failed)' })
  @ApiParam({ name: 'id' })
  @ApiResponse({ status: 200, schema: CAMERA_VIEW_SCHEMA })
  @apply(errors(401, 403, 404))
  retry(@Param('id', idPipe) id: string): Promise<CameraView> {
    return this.cameras.retryWhereRunning(id);
  }
}
