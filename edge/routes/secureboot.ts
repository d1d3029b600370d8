/**
 * GET /secureboot/signing-cert.pem (factory-spec §3.8): the certificate Secure Boot assets are
 * signed with, for manual enrolment (e.g. into firmware db, or for `sbverify --cert`).
 *
 * Disabled Secure Boot answers 404 with a one-line reason; the reference answers a bare 500 there,
 * which reads as a server fault although nothing is wrong.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { NotFoundError } from '../../src/errors.ts'
import type { AppContext } from '../context.ts'

export function secureBootRoutes(ctx: AppContext) {
  return new Elysia({ name: 'secureboot' }).get(
    '/secureboot/signing-cert.pem',
    () => {
      if (!ctx.secureBoot) throw new NotFoundError('secure boot is disabled')
      return new Response(ctx.secureBoot.certPem, { headers: { 'content-type': 'application/x-pem-file' } })
    },
    {
      response: {
        200: v.pipe(v.string(), v.description('PEM X.509 certificate (`-----BEGIN CERTIFICATE-----`, 64-character lines)')),
        404: v.pipe(v.string(), v.description('`secure boot is disabled`')),
      },
      detail: {
        summary: 'Secure Boot signing certificate',
        tags: ['secureboot'],
        description:
          'The certificate that signs Secure Boot UKIs, systemd-boot and the enrolment databases of Secure Boot ISOs (FACTORY_SECUREBOOT_*). 404 when Secure Boot is disabled.',
      },
    },
  )
}
