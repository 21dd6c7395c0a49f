// Package routes labels HTTP requests with the route template they match,
// for handlers that route nothing themselves: a gateway, a reverse proxy,
// a handler that serves a whole API description. The templates come from
// ServeMux patterns or from an OpenAPI 3.0/3.1 or Swagger 2.0 document,
// handed over as bytes: the package does no I/O, so fetching and
// reloading stay with the caller.
//
//	table, err := routes.FromOpenAPI(ctx, openapiJSON)
//	r.Pattern = table.Match(r) // "/pets/{petId}", or "" for none
//
// With otelmetrics, otelmetrics.MatchRoutes(table, next) labels the
// requests of next.
//
// A document's templates may overlap in ways http.ServeMux refuses
// (/videos/{id}/content beside /videos/characters/{cid}); the table takes
// them all, labels by the literal segment that comes first, and reports
// the pairs in Conflicts. For any set ServeMux accepts, it labels every
// request as ServeMux does.
//
// Costs are bounded whatever the input: Match reads each byte of the path
// at most a fixed number of times, however many templates the table has
// (a document whose templates would make it read more, such as hundreds
// of /{a}.vN beside each other, is refused), a load is near-linear in the
// size of the document (at most MaxDocumentBytes), and the conflict
// report keeps a count and the first 20 pairs.
package routes
