"""Doctor's catalogue: every finding's check, severity, message and fix, by code.

Pure data and the `finding` constructor; the JSON output carries the codes.
"""

from __future__ import annotations

from reconciler.doctor.values import Finding, Severity

# --- evaluation: facts in, findings out -------------------------------------------------------

# code -> (check, severity, message, fix); formatted with the values each finding gives.
_CATALOGUE: dict[str, tuple[str, Severity, str, str]] = {
    "parent-unknown": ("delegation", "problem", "{reason}", "give the parent servers: --parent"),
    "parent-in-repo": (
        "delegation",
        "note",
        "the parent zone {parent} is in this repo: `reconciler check` compares its delegation "
        "and glue with this zone",
        "",
    ),
    "parent-not-asked": (
        "delegation",
        "note",
        "not checked: no parent server given and no resolver to find one",
        "give the parent servers: --parent ADDR[:PORT]",
    ),
    "own-ns-unknown": (
        "delegation",
        "note",
        "the zone's own NS set and addresses are unknown (the primary gave no NS answer with "
        "authority): only the parent's side is checked",
        "",
    ),
    "parent-silent": (
        "delegation",
        "problem",
        "does not answer (timeout {timeout:g} s)",
        "check the parent server's address, and that it is reachable from here",
    ),
    "not-delegated-nxdomain": (
        "delegation",
        "problem",
        "says {zone} does not exist (NXDOMAIN): not delegated, the zone is off the Internet",
        "register the domain, or add its NS records ({ns}) at the registrar",
    ),
    "parent-error": (
        "delegation",
        "problem",
        "answers {rcode} to {zone} NS: is it a server of the parent zone?",
        "give the parent zone's servers: --parent ADDR[:PORT]",
    ),
    "parent-wrong": (
        "delegation",
        "problem",
        "refers to {other}, not to {zone}: it is not a server of {zone}'s parent zone",
        "give the parent zone's servers: --parent ADDR[:PORT]",
    ),
    "not-delegated": (
        "delegation",
        "problem",
        "has no NS records for {zone}: not delegated, the zone is off the Internet",
        "add the NS records ({ns}) at the registrar",
    ),
    "ns-missing-at-parent": (
        "delegation",
        "problem",
        "does not list {name}, which the zone's NS set has",
        "make the NS set at the registrar the zone's: {ns}",
    ),
    "ns-extra-at-parent": (
        "delegation",
        "problem",
        "lists {name}, which the zone's NS set does not have",
        "make the NS set at the registrar the zone's: {ns}",
    ),
    "glue-missing": (
        "delegation",
        "problem",
        "has no glue for {name}{zone_has}: resolvers cannot reach it",
        "add the glue for {name}{records} at the registrar",
    ),
    "glue-differs": (
        "delegation",
        "problem",
        "glue for {name} is {glue}, the zone has {addresses}",
        "change the glue at the registrar to {addresses} (or the zone, if the glue is right)",
    ),
    "ns-no-address": (
        "delegation",
        "problem",
        "{name} has no A or AAAA record in the zone{glue}",
        "add the address of {name} to the zone",
    ),
    "unreachable": (
        "delegation",
        "problem",
        "no nameserver of {zone} can be reached through the parent (every one is inside the "
        "zone and has no glue): the zone is off the Internet",
        "add the glue at the registrar",
    ),
    "delegated": ("delegation", "ok", "delegates {zone} to {ns}{glue}", ""),
    "ns-unmapped": (
        "servers",
        "warning",
        "{name} is a nameserver of {zone}, but no server doctor knows is named {short} or "
        "{full}: not checked",
        "name it in reconciler.toml, or pass --server {full}=ADDR[:PORT]",
    ),
    "recorded-differs": (
        "servers",
        "problem",
        "serves serial {serial}, but the reconciler last served {recorded} (state.json)",
        "another copy of the zone was loaded: `reconciler apply` serves the repo's content again",
    ),
    "silent": (
        "servers",
        "problem",
        "does not answer over UDP or TCP (timeout {timeout:g} s)",
        "is named running on {server}? are UDP and TCP port {port} open to this machine?",
    ),
    "silent-udp": (
        "servers",
        "problem",
        "does not answer over UDP, only over TCP: resolvers ask over UDP first",
        "open UDP port {port} to {server}",
    ),
    "silent-tcp": (
        "servers",
        "problem",
        "does not answer over TCP, only over UDP: zone transfers and large answers need TCP",
        "open TCP port {port} to {server}",
    ),
    "flaky": (
        "servers",
        "problem",
        "did not answer {what} (timeout {timeout:g} s) but answered the rest: queries or "
        "answers are lost on the way",
        "look for packet loss or response rate limiting (rate-limit) on the way to {server}",
    ),
    "not-serving": ("servers", "problem", "answers {what} with {fault}", "{fix}"),
    "lame": (
        "servers",
        "problem",
        "answers {what} without authority (AA flag clear): a lame server for {zone}",
        "load {zone} on {server}, or take {server} out of the NS set",
    ),
    "behind": (
        "servers",
        "problem",
        "serves serial {serial}, the primary {expected}: {distance} behind",
        "see transfers",
    ),
    "ahead": (
        "servers",
        "problem",
        "serves serial {serial}, {distance} ahead of the primary's {expected}: the primary went "
        "back (an old copy loaded?) and secondaries keep the newer serial",
        "move the primary's serial past {serial} (`reconciler apply` does with the next change)",
    ),
    "serving": (
        "servers",
        "ok",
        "SOA and MX with authority over UDP and TCP, serial {serial}{hidden}",
        "",
    ),
    "mail-not-checked": (
        "mail",
        "note",
        "not checked: the primary gave no MX answer with authority (see servers)",
        "",
    ),
    "no-mx": (
        "mail",
        "problem",
        "{zone} has no MX record: mail to it goes to its own address, if any",
        "add `@ IN MX 10 mail.{zone}.`, or the null MX `@ IN MX 0 .` (RFC 7505) if {zone} "
        "receives no mail",
    ),
    "null-mx": ("mail", "ok", "null MX: {zone} receives no mail (RFC 7505)", ""),
    "mx-unchecked": ("mail", "warning", "{target} not checked: {reason}", ""),
    "mx-nxdomain": (
        "mail",
        "problem",
        "{target} does not exist (NXDOMAIN): mail for {zone} bounces",
        "add an A or AAAA record for {target}, or point the MX at a host that has one",
    ),
    "mx-cname": (
        "mail",
        "problem",
        "{target} is a CNAME (to {cname}): an MX must name a host with its own address "
        "(RFC 2181 10.3), and some mail servers refuse it",
        "point the MX at {cname}, or give {target} its own A/AAAA records",
    ),
    "mx-no-address": (
        "mail",
        "problem",
        "{target} has no A or AAAA record: mail for {zone} bounces",
        "add an address for {target}, or point the MX at a host that has one",
    ),
    "mx-ok": ("mail", "ok", "{target} has {addresses}", ""),
    "ptr-ok": (
        "mail",
        "ok",
        "PTR {target} ({source}): forward-confirmed reverse DNS",
        "",
    ),
    "ptr-missing": (
        "mail",
        "problem",
        "no PTR record ({source} answers for the reverse name): large receivers refuse or junk "
        "mail from an address without reverse DNS",
        "add a PTR {target} for {address} in its reverse zone (or have whoever holds {address}, "
        "e.g. the hosting provider, set it)",
    ),
    "ptr-other": (
        "mail",
        "problem",
        "PTR {names} ({source}), not {target}, and it does not point back ({why}): the reverse "
        "DNS is not forward-confirmed, and large receivers refuse or junk such mail",
        "make the PTR of {address} {target}",
    ),
    "ptr-other-confirmed": (
        "mail",
        "warning",
        "PTR {name} ({source}), which has {address}: forward-confirmed, but not the MX name "
        "{target}",
        "let the mail server greet (EHLO) as {name}, or make the PTR of {address} {target}",
    ),
    "ptr-unchecked": ("mail", "note", "reverse DNS not checked: {reason}", ""),
    "spf-ok": (
        "mail",
        "ok",
        "SPF of {zone} needs {total} of the 10 DNS lookups it may ({parts})",
        "",
    ),
    "spf-over": (
        "mail",
        "problem",
        "SPF of {zone} needs {total} DNS lookups, over the limit of 10 ({parts}): receivers "
        "give permerror and SPF fails for all of {zone}'s mail",
        "replace include: targets with the ip4:/ip6: ranges they stand for, or drop those no "
        "longer used",
    ),
    "spf-include-broken": (
        "mail",
        "problem",
        "SPF of {zone}: {fault}",
        "fix the target's SPF record, or drop the include",
    ),
    "spf-unresolved": (
        "mail",
        "note",
        "SPF include targets not followed (counted as 1 each): {names}: {reason}",
        "pass --resolver ADDR to follow them",
    ),
    "spf-unchecked": ("mail", "note", "SPF not checked: {reason}", ""),
    "spf-none": (
        "mail",
        "note",
        "{zone} has no SPF record: receivers cannot tell which hosts may send as {zone}",
        'add `@ IN TXT "v=spf1 mx -all"` (the MX hosts may send, no other host)',
    ),
    "spf-several": (
        "mail",
        "problem",
        "{zone} has {count} SPF records: receivers give permerror",
        "merge them into one (`reconciler check` names them)",
    ),
    "spf-invalid": (
        "mail",
        "problem",
        "SPF of {zone} is invalid: {errors}",
        "`reconciler check` names the record and line",
    ),
    "dmarc-ok": ("mail", "ok", "DMARC of {zone}: p={policy}", ""),
    "dmarc-none": (
        "mail",
        "warning",
        "{zone} receives mail but has no DMARC record: receivers cannot tell forged mail from "
        "{zone}'s own",
        'add `_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{zone}"`, then move to '
        "p=quarantine",
    ),
    "dmarc-several": (
        "mail",
        "problem",
        "_dmarc.{zone} has {count} DMARC records: receivers apply none",
        "keep one",
    ),
    "dmarc-invalid": (
        "mail",
        "problem",
        "DMARC of {zone} is invalid: {errors}",
        "`reconciler check` names the record and line",
    ),
    "dmarc-unchecked": ("mail", "note", "DMARC not checked: {reason}", ""),
    "mx-same": ("mail", "ok", "the same MX set with authority from {servers}", ""),
    "mx-differs": (
        "mail",
        "problem",
        "gives the MX set {mine}, the primary {theirs}: senders that ask {server} deliver "
        "elsewhere",
        "see servers and transfers: {server} serves another copy of {zone}",
    ),
    "axfr-open": (
        "exposure",
        "problem",
        "gives all of {zone} to anyone by AXFR (asked from this machine, without a key)",
        'allow transfers only with the TSIG key: allow-transfer {{ key "{key}"; }}; in the '
        "options or the zone on {server}",
    ),
    "axfr-refused": ("exposure", "ok", "AXFR without a key refused by {servers}", ""),
    "recursion-open": (
        "exposure",
        "problem",
        "offers recursion to this machine (RA set in the answer to a recursive query for ./NS): "
        "an open resolver serves amplification attacks",
        "`recursion no;` in named's options (or allow-recursion {{ localhost; }}, then run doctor "
        "from elsewhere)",
    ),
    "recursion-refused": ("exposure", "ok", "recursion refused by {servers}", ""),
    "same-serial-other-data": (
        "transfers",
        "problem",
        "serves the primary's serial {serial} with another MX set ({mine}; the primary: "
        "{theirs}): the zone changed without a new serial",
        "serve the zone with a higher serial (`reconciler apply` always does)",
    ),
    "extra-lags": (
        "transfers",
        "note",
        "not a secondary of reconciler.toml: doctor cannot tell why it lags",
        "",
    ),
    "primary-tcp-open": (
        "transfers",
        "note",
        "TCP to the primary {primary} works from this machine (it answered SOA over TCP)",
        "secondaries transfer over TCP: is TCP port {port} of the primary open to {servers}?",
    ),
    "catalog-behind": (
        "transfers",
        "problem",
        "has catalog serial {serial}, the primary {expected}: the list of zones ({catalog}) "
        "did not reach it",
        "on {server}: `rndc retransfer {catalog}`, then look for '{catalog}' in its log",
    ),
    "zone-not-yet": (
        "transfers",
        "note",
        "does not serve {zone}: it learns zones from the catalog zone {catalog}",
        'on {server}: `rndc zonestatus {zone}`, and look for "transfer of \'{zone}" in its log',
    ),
    "serial-incremented": (
        "transfers",
        "note",
        "the serial was incremented ({serial} -> {expected}): the transfer itself does not happen",
        'on {server}: `rndc retransfer {zone}`, then look for "transfer of \'{zone}" in its log '
        "(TSIG key, allow-transfer, TCP)",
    ),
    "key-refused": (
        "transfers",
        "problem",
        "the primary refuses a transfer signed with the key {key}: {reason}",
        "the key files on the primary and every secondary must hold the same secret, and "
        "allow-transfer must name the key",
    ),
    "key-accepted": (
        "transfers",
        "note",
        "the primary gives {zone} to the key {key} from this machine: the key and "
        "allow-transfer are right there",
        'is the key file on {servers} the primary\'s (`key "{key}"`, the same secret)?',
    ),
    "key-untested": (
        "transfers",
        "note",
        "whether the primary accepts the key {key} is not known from this machine: {reason}",
        "is the key file on {servers} the primary's? look for TSIG in named's log there",
    ),
    "key-unread": ("transfers", "note", "{reason}", ""),
    # --- dnssec (dnssecfindings.py) ---
    "dnssec-not-signed": (
        "dnssec",
        "problem",
        "reconciler.toml signs {zone}, but the primary serves no DNSKEY for it",
        "is its dnssec-policy in the generated include? `reconciler dnssec status`",
    ),
    "dnssec-unsigned-ds": (
        "dnssec",
        "problem",
        "the parent holds a DS ({ds}) but the zone serves no DNSKEY: validating resolvers "
        "find {zone} bogus",
        "remove the DS at the registrar, or sign the zone again",
    ),
    "dnssec-ds-not-asked": (
        "dnssec",
        "note",
        "the DS at the parent is not checked (no parent server asked); the DS to hand to "
        "the registrar: {want}",
        "give the parent servers: --parent ADDR[:PORT]",
    ),
    "dnssec-ds-silent": (
        "dnssec",
        "note",
        "no answer to DS: the chain of trust is not checked there; the DS the zone needs: {want}",
        "",
    ),
    "dnssec-ds-missing": (
        "dnssec",
        "warning",
        "holds no DS for {zone}: the zone is signed but no validator can trust it (an island)",
        "hand the registrar this DS: {want}; once the parent serves it, `rndc dnssec -checkds "
        "-key {tag} published {zone}` on the primary",
    ),
    "dnssec-ds-wrong": (
        "dnssec",
        "problem",
        "DS {ds} matches no KSK or CSK the zone serves: validating resolvers find {zone} bogus",
        "replace the DS at the registrar with: {want}; then `rndc dnssec -checkds -key {tag} "
        "published {zone}` on the primary",
    ),
    "dnssec-ds-ok": (
        "dnssec",
        "ok",
        "the DS matches the {role} {tag} the zone serves: the chain of trust holds",
        "",
    ),
    "dnssec-bogus": (
        "dnssec",
        "problem",
        "{problem}",
        "compare this server's serial with the primary's; on a secondary `rndc retransfer "
        "{zone}`, on the primary `rndc zonestatus {zone}` and `reconciler dnssec status`",
    ),
    "dnssec-valid": (
        "dnssec",
        "ok",
        "RRSIGs over {types} validate; the first expires in {days} d",
        "",
    ),
    "dnssec-expiry-warning": (
        "dnssec",
        "warning",
        "the RRSIG over {rtype} expires in {days} d (thresholds {limit})",
        "named re-signs before signatures-refresh runs out: is named running and the key's "
        ".private file readable in the key directory? `rndc zonestatus {zone}` says the next "
        "resign time; a secondary must transfer the re-signed zone",
    ),
    "dnssec-expiry-problem": (
        "dnssec",
        "problem",
        "the RRSIG over {rtype} expires in {days} d (thresholds {limit}): then {zone} is bogus",
        "named re-signs before signatures-refresh runs out: is named running and the key's "
        ".private file readable in the key directory? `rndc zonestatus {zone}` says the next "
        "resign time; a secondary must transfer the re-signed zone",
    ),
    "dnssec-denial": ("dnssec", "ok", "a name that does not exist is denied with {kinds}", ""),
    "dnssec-denial-missing": (
        "dnssec",
        "problem",
        "a name that does not exist is answered {rcode} without a signed NSEC or NSEC3: "
        "validators cannot prove it does not exist",
        "compare this server's serial with the primary's; `rndc zonestatus {zone}`",
    ),
    "dnssec-cds": (
        "dnssec",
        "ok",
        "a DS change is due and the zone publishes CDS {cds}: a parent that reads CDS "
        "(RFC 8078) takes the new DS from it",
        "",
    ),
    "dnssec-cds-missing": (
        "dnssec",
        "note",
        "a DS change is due and the zone publishes no CDS or CDNSKEY: BIND publishes them "
        "once the new key's DNSKEY is known everywhere",
        "`reconciler dnssec status` says each key's state",
    ),
}


def finding(code: str, zone: str | None, subject: str = "", **values: object) -> Finding:
    """The finding `code` of the catalogue, its message and fix filled in with `values`."""
    check, severity, message, fix = _CATALOGUE[code]
    values = {"zone": zone, **values}
    return Finding(
        check, severity, message.format(**values), fix.format(**values), zone, subject, code
    )
