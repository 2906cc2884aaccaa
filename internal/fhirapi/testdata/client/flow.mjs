// The judged flow of issue 26, driven by a FHIR client library that has
// never seen this server (fhir-kit-client). Run by internal/fhirapi's
// TestFHIRClientFlow with FHIR_BASE, OWNER_TOKEN, OWNER_ID and OTHER_TOKEN
// set; every resource it receives is printed as a line "RESOURCE <json>"
// for the Go test to validate against FHIR R4, and "CHECK <what>" lines
// name the steps that passed. Any failed expectation exits non-zero.
import { Client, CapabilityTool } from 'fhir-kit-client';

const base = process.env.FHIR_BASE;
const owner = new Client({ baseUrl: base, bearerToken: process.env.OWNER_TOKEN });
const other = new Client({ baseUrl: base, bearerToken: process.env.OTHER_TOKEN });
const ownerId = process.env.OWNER_ID;

function got(resource) {
  console.log('RESOURCE ' + JSON.stringify(resource));
  return resource;
}
function check(ok, what) {
  if (!ok) {
    console.error('FAILED: ' + what);
    process.exit(1);
  }
  console.log('CHECK ' + what);
}
async function status(promise) {
  try {
    got(await promise);
    return 200;
  } catch (e) {
    if (e.response?.data) got(e.response.data);
    return e.response?.status ?? -1;
  }
}
const etagOf = (r) => Client.httpFor(r).response.headers.get('etag');

// 1. The CapabilityStatement says what the server does.
const cs = got(await owner.capabilityStatement());
const tool = new CapabilityTool(cs);
for (const i of ['read', 'vread', 'history-instance', 'search-type', 'create', 'update', 'delete']) {
  check(tool.resourceCan('Patient', i), `CapabilityStatement: Patient ${i}`);
}
check(tool.resourceCan('CareTeam', 'create') && tool.resourceCan('Practitioner', 'create'), 'CapabilityStatement: Practitioner and CareTeam create');
check(tool.resourceSearch('Patient', 'name'), 'CapabilityStatement: Patient?name');

// 2. Create a Patient, read it, find it by name.
const ageExt = (n) => ({ url: 'https://healthcare.example.org/fhir/StructureDefinition/patient-age',
  valueAge: { value: n, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' } });
const family = 'Kitclient' + Date.now().toString(36);
const created = got(await owner.create({ resourceType: 'Patient',
  body: { resourceType: 'Patient', name: [{ given: ['Zoe'], family }], gender: 'female', extension: [ageExt(29)] } }));
check(created.id && created.meta.versionId === '1', 'create Patient');
const read = got(await owner.read({ resourceType: 'Patient', id: created.id }));
check(read.name[0].text === 'Zoe ' + family && etagOf(read) === 'W/"1"', 'read Patient with its ETag');
const found = got(await owner.search({ resourceType: 'Patient', searchParams: { name: family } }));
check(found.total === 1 && found.entry[0].resource.id === created.id, 'search Patient by name');

// 3. Update with If-Match: a stale ETag is 412, the current one works.
const body = { ...read, extension: [ageExt(30)] };
check(await status(owner.update({ resourceType: 'Patient', id: created.id, body, options: { headers: { 'If-Match': 'W/"7"' } } })) === 412,
  'update with a stale ETag is 412');
const updated = got(await owner.update({ resourceType: 'Patient', id: created.id, body, options: { headers: { 'If-Match': etagOf(read) } } }));
check(updated.meta.versionId === '2' && updated.extension.some((e) => e.valueAge?.value === 30), 'update with If-Match');

// 4. History, and vread of the first version.
const hist = got(await owner.history({ resourceType: 'Patient', id: created.id }));
check(hist.type === 'history' && hist.total === 2, 'history of the Patient');
const v1 = got(await owner.vread({ resourceType: 'Patient', id: created.id, version: '1' }));
check(v1.extension.some((e) => e.valueAge?.value === 29), 'vread version 1');

// 5. A Practitioner and a CareTeam linking the two.
const doctor = got(await owner.create({ resourceType: 'Practitioner', body: { resourceType: 'Practitioner', name: [{ text: 'Dr Kit ' + family }],
  extension: [{ url: 'https://healthcare.example.org/fhir/StructureDefinition/practitioner-specialization', valueString: 'Neurology' }] } }));
const team = got(await owner.create({ resourceType: 'CareTeam', body: { resourceType: 'CareTeam',
  subject: { reference: 'Patient/' + created.id }, participant: [{ member: { reference: 'Practitioner/' + doctor.id } }] } }));
check(team.subject.reference === 'Patient/' + created.id, 'create CareTeam');
const teams = got(await owner.search({ resourceType: 'CareTeam', searchParams: { patient: created.id } }));
check(teams.total === 1, 'search CareTeam by patient');
const role = got(await owner.resolve({ reference: 'PractitionerRole/' + doctor.id }));
check(role.specialty[0].text === 'Neurology', 'PractitionerRole from the specialization');
console.log('IDS ' + JSON.stringify({ patient: created.id, practitioner: doctor.id, careTeam: team.id }));

// 6. Another user's token: 404, as for an id that never existed.
check(await status(other.read({ resourceType: 'Patient', id: created.id })) === 404, "another user's token reads 404");

// 7. The owner's AuditEvent search finds its own FHIR reads.
const trail = got(await owner.search({ resourceType: 'AuditEvent', searchParams: { entity: 'Patient/' + created.id, agent: ownerId, _count: 100 } }));
const reads = trail.entry.filter((e) => e.resource.action === 'R' &&
  e.resource.entity.some((x) => (x.detail || []).some((d) => d.type === 'via' && d.valueString === 'fhir')));
check(reads.length >= 2, `the owner's AuditEvent search finds its reads (${reads.length})`);

// 8. Paging by the links the server gives.
const page = got(await owner.search({ resourceType: 'AuditEvent', searchParams: { entity: 'Patient/' + created.id, _count: 2 } }));
const next = got(await owner.nextPage({ bundle: page }));
check(next.entry.length > 0 && Number(next.entry[0].resource.id) < Number(page.entry[1].resource.id), 'next page by the link, after the first');

// 9. Delete: the owner then gets 410, the other user still 404.
await owner.delete({ resourceType: 'CareTeam', id: team.id });
await owner.delete({ resourceType: 'Patient', id: created.id, options: { headers: { 'If-Match': etagOf(updated) } } });
check(await status(owner.read({ resourceType: 'Patient', id: created.id })) === 410, 'deleted Patient is 410 for its owner');
check(await status(other.read({ resourceType: 'Patient', id: created.id })) === 404, 'and 404 for another user');
console.log('DONE');
