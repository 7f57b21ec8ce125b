//! The schema's one async-graphql extension: it puts every answer into the shape the spec and
//! our callers expect, with codes on async-graphql's own errors (`error`) and nulls where fields
//! failed (`null_propagation`). One is made per operation (batch items included).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value};

use super::error::{code_the_rest, code_validation_errors};
use super::null_propagation::NullPropagation;

pub struct AnswerShape;

impl ExtensionFactory for AnswerShape {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AnswerShapeExtension::default())
    }
}

#[derive(Default)]
struct AnswerShapeExtension {
    nulls: NullPropagation,
}

#[async_trait::async_trait]
impl Extension for AnswerShapeExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        self.nulls.finish(&mut response);
        code_the_rest(&mut response.errors);
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        let path = info.path_node;
        let result = next.run(ctx, info).await;
        self.nulls.field(nullable, path, result)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            code_validation_errors(&mut errors);
            errors
        })
    }
}
