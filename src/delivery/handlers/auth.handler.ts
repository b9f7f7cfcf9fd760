import { Inject, Injectable } from '@nestjs/common';
import { AuthService } from '../../auth/auth.service';
import { CommandOf } from '../../contracts/commands';
import { CodedError } from '../../contracts/errors';
import { CLOSE_CODES, PROTOCOL_VERSION } from '../../contracts/wire';
import { CommandContext, WsCommand, WsCommandHandler } from '../command-handler';

/** `{"type":"auth","token"}`: the way in for clients that could not send the token in the handshake. */
@Injectable()
@WsCommand('auth')
export class AuthHandler implements WsCommandHandler<'auth'> {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  handle({ id, token }: CommandOf<'auth'>, { connection }: CommandContext) {
    const principal = this.auth.verify(token);
    if (!principal) {
      // A wrong token ends the connection: guessing is one try per TCP+WS handshake, not thousands per socket.
      connection.close(CLOSE_CODES.unauthorized, 'invalid token');
      throw new CodedError('unauthorized', 'invalid token');
    }
    connection.principal = principal;
    if (connection.authTimer) clearTimeout(connection.authTimer);
    connection.authTimer = null;
    if (id === undefined) {
      connection.reply({ type: 'hello', protocol: PROTOCOL_VERSION, authenticated: true, scope: principal.scope });
    }
    return { scope: principal.scope };
  }
}
